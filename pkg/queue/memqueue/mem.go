package memqueue

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/driver"
)

// Defaults.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultMaxDelay          = time.Hour // CMQ's limit, so local runs chain like Tencent
	DefaultMaxBatch          = 16
)

// Options configure a Queue. The zero value is a plain FIFO-ish queue on the
// wall clock.
type Options struct {
	// Now is the clock due times are computed from. A simulator passes its
	// virtual clock and advances it; nothing here uses timers for delivery.
	Now               func() time.Time
	VisibilityTimeout time.Duration // default 30 s
	MaxDelay          time.Duration // default 1 h
	MaxBatch          int           // default 16
	// DuplicateRate is the share (0..1) of sent messages enqueued twice, as
	// two deliveries with the same ID, to exercise at-least-once handling.
	DuplicateRate float64
	// Reorder delivers due messages in random order instead of due order.
	Reorder bool
	// Seed makes DuplicateRate and Reorder reproducible.
	Seed uint64
}

type message struct {
	id        string
	body      []byte
	seq       uint64
	visibleAt time.Time
	receives  int
	receipt   string // current receipt, "" before the first receive
	index     int    // position in the queue's heap
}

// dueHeap orders messages by (visibleAt, seq), the order they are received
// in: a simulator keeps tens of thousands in one queue and touches the
// earliest on every step, so every operation is O(log n), not a scan.
type dueHeap []*message

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if c := h[i].visibleAt.Compare(h[j].visibleAt); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	m := x.(*message)
	m.index = len(*h)
	*h = append(*h, m)
}
func (h *dueHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}

// Queue is one in-memory queue. It implements driver.Queue; its extra
// methods (Len, InFlight, NextDue, Purge) are for tests and simulators. Safe
// for concurrent use.
type Queue struct {
	name string
	o    Options

	mu       sync.Mutex
	rng      *rand.Rand
	msgs     dueHeap
	byRcpt   map[string]*message
	seq      uint64
	receipts uint64
	wake     chan struct{} // closed and replaced on every send
}

var _ driver.Queue = (*Queue)(nil)

// New returns a queue of its own, not shared by name. o may be nil.
func New(name string, o *Options) *Queue {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.VisibilityTimeout <= 0 {
		opt.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = DefaultMaxDelay
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	return &Queue{
		name:   name,
		o:      opt,
		rng:    rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5851f42d4c957f2d)),
		byRcpt: map[string]*message{},
		wake:   make(chan struct{}),
	}
}

var (
	namedMu sync.Mutex
	named   = map[string]*Queue{}
)

// Named returns the process-wide queue called name, creating it with o on
// first use (later calls ignore o). Several functions in one process share a
// queue this way, as they would share a cloud queue.
func Named(name string, o *Options) *Queue {
	namedMu.Lock()
	defer namedMu.Unlock()
	if q, ok := named[name]; ok {
		return q
	}
	q := New(name, o)
	named[name] = q
	return q
}

// Forget drops the process-wide queue called name, so the next Named call
// creates a fresh one. Tests use it to isolate runs.
func Forget(name string) {
	namedMu.Lock()
	defer namedMu.Unlock()
	delete(named, name)
}

// Open returns the process-wide queue called name behind the portable type.
func Open(name string, o *Options) *queue.Queue {
	return queue.New(name, Named(name, o))
}

func init() {
	queue.Openers.Register("mem", openURL)
}

// openURL serves mem://name?visibility=30s&maxdelay=1h&duplicate=0.1&reorder=true&seed=7.
func openURL(_ context.Context, u *url.URL, env openurl.Env) (*queue.Queue, error) {
	name := u.Host + u.Path
	if name == "" {
		return nil, apierr.Invalid("mem queue URL %q has no name", u.String())
	}
	o := Options{Now: env.Now}
	q := u.Query()
	var err error
	if v := q.Get("visibility"); v != "" {
		if o.VisibilityTimeout, err = time.ParseDuration(v); err != nil {
			return nil, apierr.Invalid("visibility %q: %v", v, err)
		}
	}
	if v := q.Get("maxdelay"); v != "" {
		if o.MaxDelay, err = time.ParseDuration(v); err != nil {
			return nil, apierr.Invalid("maxdelay %q: %v", v, err)
		}
	}
	if v := q.Get("duplicate"); v != "" {
		if o.DuplicateRate, err = strconv.ParseFloat(v, 64); err != nil || o.DuplicateRate < 0 || o.DuplicateRate > 1 {
			return nil, apierr.Invalid("duplicate %q: want a rate in 0..1", v)
		}
	}
	if v := q.Get("reorder"); v != "" {
		if o.Reorder, err = strconv.ParseBool(v); err != nil {
			return nil, apierr.Invalid("reorder %q: %v", v, err)
		}
	}
	if v := q.Get("seed"); v != "" {
		if o.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, apierr.Invalid("seed %q: %v", v, err)
		}
	}
	return Open(name, &o), nil
}

// MaxDelay implements driver.Queue.
func (q *Queue) MaxDelay() time.Duration { return q.o.MaxDelay }

// MaxBatch implements driver.Queue.
func (q *Queue) MaxBatch() int { return q.o.MaxBatch }

// VisibilityTimeout is how long a received message stays hidden.
func (q *Queue) VisibilityTimeout() time.Duration { return q.o.VisibilityTimeout }

// Close implements driver.Queue. A shared queue outlives its handles, so
// this does nothing.
func (q *Queue) Close() error { return nil }

// Send implements driver.Queue.
func (q *Queue) Send(_ context.Context, body []byte, delay time.Duration) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	id := fmt.Sprintf("mem-%d", q.seq)
	at := q.o.Now().Add(delay)
	heap.Push(&q.msgs, &message{id: id, body: slices.Clone(body), seq: q.seq, visibleAt: at})
	if q.o.DuplicateRate > 0 && q.rng.Float64() < q.o.DuplicateRate {
		q.seq++
		heap.Push(&q.msgs, &message{id: id, body: slices.Clone(body), seq: q.seq, visibleAt: at})
	}
	close(q.wake)
	q.wake = make(chan struct{})
	return id, nil
}

// Receive implements driver.Queue. Due times come from Now; a wait only
// parks the caller until a Send (or the wait, in real time, ends), so with
// a virtual clock pass wait 0 and advance the clock instead.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]driver.Message, error) {
	var timer <-chan time.Time
	for {
		q.mu.Lock()
		out := q.receiveLocked(max)
		wake := q.wake
		q.mu.Unlock()
		if len(out) > 0 || wait <= 0 {
			return out, nil
		}
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-wake:
		case <-timer:
			return out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *Queue) receiveLocked(max int) []driver.Message {
	now := q.o.Now()
	if q.o.Reorder {
		return q.receiveShuffled(now, max)
	}
	var out []driver.Message
	// Each message received becomes visible a visibility timeout from now,
	// after every message still due, so the head is always the next one.
	for len(out) < max && len(q.msgs) > 0 && !q.msgs[0].visibleAt.After(now) {
		out = append(out, q.deliver(q.msgs[0], now))
		heap.Fix(&q.msgs, 0)
	}
	return out
}

// receiveShuffled delivers due messages in random order: every due message,
// in send order, shuffled, then the first max of them.
func (q *Queue) receiveShuffled(now time.Time, max int) []driver.Message {
	var due []*message
	for _, m := range q.msgs {
		if !m.visibleAt.After(now) {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *message) int { return cmp.Compare(a.seq, b.seq) })
	q.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	out := make([]driver.Message, 0, min(max, len(due)))
	for _, m := range due[:min(max, len(due))] {
		out = append(out, q.deliver(m, now))
		heap.Fix(&q.msgs, m.index)
	}
	return out
}

// deliver hands m out under a new receipt and hides it; the caller fixes
// its place in the heap.
func (q *Queue) deliver(m *message, now time.Time) driver.Message {
	if m.receipt != "" {
		delete(q.byRcpt, m.receipt)
	}
	q.receipts++
	m.receipt = fmt.Sprintf("%s.%d", m.id, q.receipts)
	m.receives++
	m.visibleAt = now.Add(q.o.VisibilityTimeout)
	q.byRcpt[m.receipt] = m
	return driver.Message{ID: m.id, Body: slices.Clone(m.body), Receipt: m.receipt, Receives: m.receives}
}

// Delete implements driver.Queue. Like CMQ, only the latest receipt of a
// message deletes it, and only before its visibility timeout ends.
func (q *Queue) Delete(_ context.Context, receipt string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.byRcpt[receipt]
	if !ok || !m.visibleAt.After(q.o.Now()) {
		return fmt.Errorf("receipt %q: %w", receipt, driver.ErrInvalidReceipt)
	}
	delete(q.byRcpt, receipt)
	heap.Remove(&q.msgs, m.index)
	return nil
}

// Len is the number of messages not yet deleted (due, delayed or in flight).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// InFlight is the number of received messages still hidden by their
// visibility timeout.
func (q *Queue) InFlight() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.o.Now()
	n := 0
	for _, m := range q.msgs {
		if m.receives > 0 && m.visibleAt.After(now) {
			n++
		}
	}
	return n
}

// NextDue is the earliest time a message becomes receivable (possibly in the
// past: something is due now); false when the queue is empty. A simulator
// advances its clock to it.
func (q *Queue) NextDue() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return time.Time{}, false
	}
	return q.msgs[0].visibleAt, true
}

// Purge deletes every message.
func (q *Queue) Purge() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = nil
	q.byRcpt = map[string]*message{}
}
