package sqsemu

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fault"
)

// Limits of standard queues.
const (
	MaxDelay          = 900 * time.Second
	MaxBatch          = 10
	MaxWait           = 20 * time.Second
	MaxVisibility     = 12 * time.Hour
	MaxMessageSize    = 1 << 20
	DefaultAccountID  = "000000000000"
	defaultVisibility = 30 * time.Second
)

// Options configure a Server.
type Options struct {
	// Now is the clock every due time is computed from; no goroutines or
	// delivery timers run.
	Now func() time.Time
	// AccountID is the account in queue URLs; default 000000000000.
	AccountID string
	// AccessKeyID, when set, is the only access key accepted (the SigV4
	// credential scope's). Unset, any key is accepted, but every request
	// must still carry a SigV4 Authorization header.
	AccessKeyID string
	// SecretAccessKey, with AccessKeyID, makes the server verify each
	// signature in full (recomputed with aws-sdk-go-v2's signer).
	SecretAccessKey string
	// VisibilityTimeout is every queue's default; default 30 s.
	VisibilityTimeout time.Duration
	// Faults breaks a share of requests: drop, 5xx, slow, internal 500,
	// throttling.
	Faults *fault.Injector
	// AutoCreate creates queues on first use instead of QueueDoesNotExist.
	AutoCreate bool
}

type message struct {
	id           string
	body         string
	md5          string
	sentAt       time.Time
	visibleAt    time.Time
	receipt      string
	receives     int
	firstReceive time.Time
	attrs        map[string]attrValue // message attributes, as sent
}

type sqsQueue struct {
	name string
	msgs []*message
}

// Server is an in-memory SQS endpoint. Safe for concurrent use.
type Server struct {
	o Options

	mu       sync.Mutex
	queues   map[string]*sqsQueue
	receipts map[string]*message
	seq      uint64
	reqs     uint64
	wake     chan struct{}
}

// New returns a server with no queues.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.VisibilityTimeout <= 0 {
		o.VisibilityTimeout = defaultVisibility
	}
	return &Server{o: o, queues: map[string]*sqsQueue{}, receipts: map[string]*message{}, wake: make(chan struct{})}
}

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// CreateQueue creates an empty standard queue; an existing one is kept.
func (s *Server) CreateQueue(name string) error {
	if !queueNameRE.MatchString(name) {
		return fmt.Errorf("sqs queue name %q: want 1-80 letters, digits, - or _", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[name]; !ok {
		s.queues[name] = &sqsQueue{name: name}
	}
	return nil
}

// QueueURL is the URL of queue name when the server is reached at base
// (scheme://host:port).
func (s *Server) QueueURL(base, name string) string {
	return base + "/" + s.o.AccountID + "/" + name
}

func (s *Server) queueLocked(name string) *sqsQueue {
	q, ok := s.queues[name]
	if !ok && s.o.AutoCreate && queueNameRE.MatchString(name) {
		q = &sqsQueue{name: name}
		s.queues[name] = q
	}
	return q
}

// Stats counts a queue's messages: visible now, in flight (received and
// hidden) and delayed (never received, not yet due).
func (s *Server) Stats(name string) (visible, inflight, delayed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return 0, 0, 0
	}
	now := s.o.Now()
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receives > 0:
			inflight++
		default:
			delayed++
		}
	}
	return visible, inflight, delayed
}

func (s *Server) sendLocked(q *sqsQueue, body string, delay time.Duration) *message {
	s.seq++
	now := s.o.Now()
	sum := md5.Sum([]byte(body))
	m := &message{
		id:   fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq>>48, s.seq),
		body: body, md5: hex.EncodeToString(sum[:]),
		sentAt: now, visibleAt: now.Add(delay),
	}
	q.msgs = append(q.msgs, m)
	close(s.wake)
	s.wake = make(chan struct{})
	return m
}

// receiveLocked hands out up to n visible messages in due order, and says
// when the next hidden one is due (zero when none).
func (s *Server) receiveLocked(q *sqsQueue, n int, visibility time.Duration) ([]*message, time.Time) {
	now := s.o.Now()
	var out []*message
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
		delete(s.receipts, m.receipt)
		s.seq++
		m.receipt = "AQEB" + hex.EncodeToString([]byte(m.id+"#"+strconv.FormatUint(s.seq, 10)))
		s.receipts[m.receipt] = m
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.visibleAt = now.Add(visibility)
		out = append(out, m)
	}
	return out, next
}

func (s *Server) deleteLocked(q *sqsQueue, m *message) {
	delete(s.receipts, m.receipt)
	for i, x := range q.msgs {
		if x == m {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			return
		}
	}
}
