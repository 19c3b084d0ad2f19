package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue/driver"
)

// MaxBodySize is the largest message body any driver accepts: 1 MiB, the
// TDMQ-CMQ and SQS limit. Our envelopes are far smaller.
const MaxBodySize = 1 << 20

// ErrInvalidReceipt is matched by Delete errors for a receipt that is unknown,
// stale or expired. The message may be delivered again; a handler that has
// finished its work can treat this as done.
var ErrInvalidReceipt = driver.ErrInvalidReceipt

// ErrClosed is returned by every method of a closed Queue.
var ErrClosed = errors.New("queue is closed")

// Message is one delivery of a message.
type Message struct {
	ID       string // stable across deliveries of the same message
	Body     []byte
	Receipt  string // pass to Delete; changes on every delivery
	Receives int    // delivery count, 1 on the first
}

// Queue is a portable message queue. Safe for concurrent use.
type Queue struct {
	name string
	drv  driver.Queue

	mu     sync.RWMutex
	closed bool
}

// New wraps a driver. Drivers call it; applications use Open or a driver's
// own constructor.
func New(name string, d driver.Queue) *Queue {
	return &Queue{name: name, drv: d}
}

// Name is the queue's name as opened.
func (q *Queue) Name() string { return q.name }

// MaxDelay is the longest delay Send accepts (mem: configurable, 1 h by
// default; cmq: 3600 s; sqs: 900 s). Callers chain longer waits.
func (q *Queue) MaxDelay() time.Duration { return q.drv.MaxDelay() }

// MaxBatch is the most messages one Receive returns (cmq 16, sqs 10).
func (q *Queue) MaxBatch() int { return q.drv.MaxBatch() }

func (q *Queue) check() error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	return nil
}

func (q *Queue) wrap(op string, err error) error {
	return fmt.Errorf("queue %s: %s: %w", q.name, op, err)
}

// Send enqueues body to become visible after delay and returns its message
// id. The body must be 1..MaxBodySize bytes of UTF-8 text (the clouds carry
// strings); delay must be within 0..MaxDelay. A failed Send may still have
// enqueued the message (apierr.RetryAfterLookup), so receivers must tolerate
// duplicates.
func (q *Queue) Send(ctx context.Context, body []byte, delay time.Duration) (string, error) {
	if err := q.check(); err != nil {
		return "", q.wrap("send", err)
	}
	switch {
	case len(body) == 0:
		return "", q.wrap("send", apierr.Invalid("empty message body"))
	case len(body) > MaxBodySize:
		return "", q.wrap("send", apierr.Invalid("message body is %d bytes, over the %d-byte limit", len(body), MaxBodySize))
	case !utf8.Valid(body):
		return "", q.wrap("send", apierr.Invalid("message body is not UTF-8 text"))
	case delay < 0:
		return "", q.wrap("send", apierr.Invalid("negative delay %v", delay))
	case delay > q.drv.MaxDelay():
		return "", q.wrap("send", apierr.Invalid("delay %v is over the queue's maximum %v; chain shorter delays", delay, q.drv.MaxDelay()))
	}
	id, err := q.drv.Send(ctx, body, delay)
	if err != nil {
		return "", q.wrap("send", err)
	}
	return id, nil
}

// Receive returns up to max messages that are due, waiting up to wait (long
// poll) for the first. It may return fewer than max (never more than
// MaxBatch); nothing due is an empty slice and a nil error. Each returned
// message stays hidden for the visibility timeout; Delete it when done.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error) {
	if err := q.check(); err != nil {
		return nil, q.wrap("receive", err)
	}
	if max < 1 {
		return nil, q.wrap("receive", apierr.Invalid("max %d: want at least 1", max))
	}
	if wait < 0 {
		return nil, q.wrap("receive", apierr.Invalid("negative wait %v", wait))
	}
	max = min(max, q.drv.MaxBatch())
	dms, err := q.drv.Receive(ctx, max, wait)
	if err != nil {
		return nil, q.wrap("receive", err)
	}
	out := make([]Message, 0, len(dms))
	for _, m := range dms {
		out = append(out, Message(m))
	}
	return out, nil
}

// Delete acknowledges a delivery so it is not delivered again. An unknown,
// stale or expired receipt matches ErrInvalidReceipt.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	if err := q.check(); err != nil {
		return q.wrap("delete", err)
	}
	if receipt == "" {
		return q.wrap("delete", apierr.Invalid("empty receipt"))
	}
	if err := q.drv.Delete(ctx, receipt); err != nil {
		return q.wrap("delete", err)
	}
	return nil
}

// Close releases the queue's resources. Later calls on q return ErrClosed;
// closing twice is not an error.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	if err := q.drv.Close(); err != nil {
		return q.wrap("close", err)
	}
	return nil
}

// Openers is the queue registry: each driver registers its scheme here
// when imported (memqueue mem://, cmqqueue cmq://, sqsqueue sqs://).
var Openers = openurl.NewRegistry[*Queue]("queue")

// Open opens a queue by URL: mem://name, cmq://name?region=..&endpoint=..,
// sqs://name-or-host/path?region=..&endpoint=... The driver for the scheme
// must be imported (see the package doc); it reads its own settings from
// env.
func Open(ctx context.Context, rawURL string, env openurl.Env) (*Queue, error) {
	return Openers.Open(ctx, rawURL, env)
}
