package cmqemu

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fault"
)

// Limits (facts/platform.md §9.5-§9.7).
const (
	MaxDelay       = 3600 * time.Second
	MaxBatch       = 16
	MaxPollingWait = 30 * time.Second
	MaxMessageSize = 1 << 20
	maxBatchSend   = 64 << 10 // total of one BatchSendMessage
)

// Error is a CMQ API error: the top-level code, the module number printed
// in the message's "(NNNNN)" prefix, and the English text.
type Error struct {
	Code   int
	Module int
	Text   string
}

func (e *Error) Error() string { return fmt.Sprintf("(%d)%s", e.Module, e.Text) }

func errf(code, module int, format string, args ...any) *Error {
	return &Error{Code: code, Module: module, Text: fmt.Sprintf(format, args...)}
}

// Errors the broker returns; compare Code (and Module) rather than identity.
var (
	errNoMessage     = errf(7000, 10200, "no message")
	errQueueMissing  = errf(4440, 10100, "queue is not existed, or deleted")
	errInvalidHandle = errf(4430, 10260, "receipt handle is invalid")
)

// Options configure a Broker.
type Options struct {
	// SecretID and SecretKey are the one key pair the data plane accepts.
	// An empty SecretID turns signature checks off.
	SecretID, SecretKey string
	// Now is the broker's clock; every due time is computed from it. The
	// broker starts no goroutines and sets no delivery timers.
	Now func() time.Time
	// VisibilityTimeout hides a received message; default 30 s.
	VisibilityTimeout time.Duration
	// MaxUnacked is the queue's max unacknowledged time: a message is
	// dropped this long after it was sent, acknowledged or not. Default 12 h.
	MaxUnacked time.Duration
	// Faults breaks a share of data-plane requests (drop, 5xx, slow,
	// internal error 6000, throttling 4420).
	Faults *fault.Injector
	// RedeliverRate is the share (0..1) of deleted messages delivered once
	// more anyway, as at-least-once delivery allows.
	RedeliverRate float64
	// Seed makes RedeliverRate reproducible.
	Seed uint64
	// AutoCreate creates a queue on first use instead of answering 4440.
	AutoCreate bool
}

type message struct {
	id           string
	body         string
	seq          uint64
	sentAt       time.Time
	visibleAt    time.Time
	handle       string
	dequeueCount int
	firstDequeue time.Time
	redelivered  bool // RedeliverRate already applied once
}

type cmqQueue struct {
	name string
	msgs []*message // in send order
}

// Broker is an in-memory TDMQ-for-CMQ broker. Safe for concurrent use.
type Broker struct {
	o Options

	mu      sync.Mutex
	rng     *rand.Rand
	queues  map[string]*cmqQueue // by lower-case name: TDMQ names are case-insensitive
	handles map[string]*message
	msgSeq  uint64
	hdlSeq  uint64
	reqSeq  uint64
	wake    chan struct{} // closed and replaced whenever a message is sent
	stop    chan struct{} // closed by Shutdown: long-polls answer at once
	stopped sync.Once
}

// New returns an empty broker.
func New(o Options) *Broker {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VisibilityTimeout <= 0 {
		o.VisibilityTimeout = 30 * time.Second
	}
	if o.MaxUnacked <= 0 {
		o.MaxUnacked = 12 * time.Hour
	}
	return &Broker{
		o:       o,
		rng:     rand.New(rand.NewPCG(o.Seed, o.Seed^0x2545f4914f6cdd1d)),
		queues:  map[string]*cmqQueue{},
		handles: map[string]*message{},
		wake:    make(chan struct{}),
		stop:    make(chan struct{}),
	}
}

// Shutdown ends every long-poll in flight and makes later receives answer
// at once. An HTTP server's graceful shutdown waits for in-flight requests,
// and a 30 s long-poll would otherwise outlast any sane shutdown budget.
func (b *Broker) Shutdown() {
	b.stopped.Do(func() { close(b.stop) })
}

var queueNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)

func checkName(name string) *Error {
	if !queueNameRE.MatchString(name) || strings.HasSuffix(name, "-") {
		return errf(4000, 10020, "queue name format error")
	}
	return nil
}

// CreateQueue creates an empty queue; creating an existing one is a no-op.
func (b *Broker) CreateQueue(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queueLocked(name, true)
	return nil
}

func (b *Broker) queueLocked(name string, create bool) *cmqQueue {
	key := strings.ToLower(name)
	q, ok := b.queues[key]
	if !ok && (create || b.o.AutoCreate) && checkName(name) == nil {
		q = &cmqQueue{name: name}
		b.queues[key] = q
	}
	return q
}

// SendMessage enqueues body on queue, visible after delay, and returns the
// message id. The API 3.0 emulator forwards SendCmqMsg here. Errors are
// *Error with the data plane's codes (4440 missing queue, 4000/10120 empty
// body, 4400 too large, 4000/10692 delay out of range).
func (b *Broker) SendMessage(queue, body string, delay time.Duration) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids, err := b.sendLocked(queue, []string{body}, delay)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

func (b *Broker) sendLocked(queue string, bodies []string, delay time.Duration) ([]string, *Error) {
	q := b.queueLocked(queue, false)
	if q == nil {
		return nil, errQueueMissing
	}
	if delay < 0 || delay > MaxDelay || delay > b.o.MaxUnacked {
		return nil, errf(4000, 10692, "delay seconds is out of range")
	}
	for _, body := range bodies {
		if body == "" {
			return nil, errf(4000, 10120, "message body can't be empty")
		}
		if len(body) > MaxMessageSize {
			return nil, errf(4400, 10230, "exceed maximum message size")
		}
	}
	now := b.o.Now()
	ids := make([]string, 0, len(bodies))
	for _, body := range bodies {
		b.msgSeq++
		m := &message{id: fmt.Sprintf("Msg-%010d", b.msgSeq), body: body, seq: b.msgSeq, sentAt: now, visibleAt: now.Add(delay)}
		q.msgs = append(q.msgs, m)
		ids = append(ids, m.id)
	}
	close(b.wake)
	b.wake = make(chan struct{})
	return ids, nil
}

// delivery is one received message as the data plane reports it.
type delivery struct {
	MsgBody          string `json:"msgBody"`
	MsgID            string `json:"msgId"`
	ReceiptHandle    string `json:"receiptHandle"`
	EnqueueTime      int64  `json:"enqueueTime"`
	FirstDequeueTime int64  `json:"firstDequeueTime"`
	NextVisibleTime  int64  `json:"nextVisibleTime"`
	DequeueCount     int    `json:"dequeueCount"`
}

// expireLocked drops messages past the max unacknowledged time.
func (b *Broker) expireLocked(q *cmqQueue, now time.Time) {
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if now.Sub(m.sentAt) >= b.o.MaxUnacked {
			delete(b.handles, m.handle)
			continue
		}
		kept = append(kept, m)
	}
	clear(q.msgs[len(kept):])
	q.msgs = kept
}

// receiveLocked hands out up to n visible messages, oldest due first, and
// reports when the next hidden one becomes visible (zero when none).
func (b *Broker) receiveLocked(queue string, n int) ([]delivery, time.Time, *Error) {
	q := b.queueLocked(queue, false)
	if q == nil {
		return nil, time.Time{}, errQueueMissing
	}
	now := b.o.Now()
	b.expireLocked(q, now)
	var out []delivery
	var next time.Time
	for _, m := range q.msgs {
		if m.visibleAt.After(now) {
			if next.IsZero() || m.visibleAt.Before(next) {
				next = m.visibleAt
			}
			continue
		}
		if len(out) == n {
			continue
		}
		delete(b.handles, m.handle)
		b.hdlSeq++
		m.handle = strconv.FormatUint(100000000000000+b.hdlSeq*7919, 10)
		b.handles[m.handle] = m
		m.dequeueCount++
		if m.firstDequeue.IsZero() {
			m.firstDequeue = now
		}
		m.visibleAt = now.Add(b.o.VisibilityTimeout)
		out = append(out, delivery{
			MsgBody: m.body, MsgID: m.id, ReceiptHandle: m.handle,
			EnqueueTime: m.sentAt.Unix(), FirstDequeueTime: m.firstDequeue.Unix(),
			NextVisibleTime: m.visibleAt.Unix(), DequeueCount: m.dequeueCount,
		})
	}
	return out, next, nil
}

// deleteLocked acknowledges the delivery a handle names. Only the latest
// handle of a message works, and only before its nextVisibleTime.
func (b *Broker) deleteLocked(queue, handle string) *Error {
	q := b.queueLocked(queue, false)
	if q == nil {
		return errQueueMissing
	}
	if handle == "" || len(handle) > 256 {
		return errf(4000, 10470, "receiptHandle error")
	}
	m, ok := b.handles[handle]
	if !ok || !m.visibleAt.After(b.o.Now()) || !containsMsg(q, m) {
		return errInvalidHandle
	}
	delete(b.handles, handle)
	m.handle = ""
	if !m.redelivered && b.o.RedeliverRate > 0 && b.rng.Float64() < b.o.RedeliverRate {
		// At-least-once: the ack is "lost" and the message comes back once.
		m.redelivered = true
		m.visibleAt = b.o.Now()
		return nil
	}
	for i, x := range q.msgs {
		if x == m {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			break
		}
	}
	return nil
}

func containsMsg(q *cmqQueue, m *message) bool {
	for _, x := range q.msgs {
		if x == m {
			return true
		}
	}
	return false
}

// Stats counts a queue's messages: visible (receivable now), in flight
// (received, hidden by the visibility timeout) and delayed (not yet due,
// never received). A missing queue counts zero.
func (b *Broker) Stats(queue string) (visible, inflight, delayed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queueLocked(queue, false)
	if q == nil {
		return 0, 0, 0
	}
	now := b.o.Now()
	b.expireLocked(q, now)
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.dequeueCount > 0 && m.handle != "":
			inflight++
		default:
			delayed++
		}
	}
	return visible, inflight, delayed
}

// Bodies returns the bodies of a queue's messages in send order, whatever
// their state, without receiving them: a test reads what was queued.
func (b *Broker) Bodies(queue string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queueLocked(queue, false)
	if q == nil {
		return nil
	}
	out := make([]string, 0, len(q.msgs))
	for _, m := range q.msgs {
		out = append(out, m.body)
	}
	return out
}

// NextDue is the earliest time a hidden message on any queue becomes
// visible; false when nothing is hidden. Simulators advance their clock to it.
func (b *Broker) NextDue() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.o.Now()
	var next time.Time
	for _, q := range b.queues {
		for _, m := range q.msgs {
			if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
				next = m.visibleAt
			}
		}
	}
	return next, !next.IsZero()
}

// QueueNotFound reports whether e is the missing-queue error, so callers
// (the API 3.0 emulator) can map it without knowing CMQ codes.
func (e *Error) QueueNotFound() bool { return e.Code == errQueueMissing.Code }
