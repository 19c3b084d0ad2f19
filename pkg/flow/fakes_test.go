package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

type qmsg struct {
	due  time.Time
	body []byte
	seq  int
}

// fakeQueue is an at-least-once queue on the virtual clock.
type fakeQueue struct {
	name  string
	clk   *clocktest.Clock
	mu    sync.Mutex
	msgs  []qmsg
	n     int
	sent  int
	delay []time.Duration
	max   time.Duration
	fail  int // fail the next n sends
}

func (q *fakeQueue) Send(_ context.Context, body []byte, delay time.Duration) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail > 0 {
		q.fail--
		return "", fmt.Errorf("%s: queue unavailable", q.name)
	}
	if q.max > 0 && delay > q.max {
		return "", fmt.Errorf("%s: delay %s over max %s", q.name, delay, q.max)
	}
	q.n++
	q.sent++
	q.delay = append(q.delay, delay)
	q.msgs = append(q.msgs, qmsg{due: q.clk.Now().Add(delay), body: slices.Clone(body), seq: q.n})
	return fmt.Sprint(q.n), nil
}
func (q *fakeQueue) MaxDelay() time.Duration { return q.max }

// next pops the earliest due message.
func (q *fakeQueue) next() (qmsg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return qmsg{}, false
	}
	sort.SliceStable(q.msgs, func(i, j int) bool {
		if q.msgs[i].due.Equal(q.msgs[j].due) {
			return q.msgs[i].seq < q.msgs[j].seq
		}
		return q.msgs[i].due.Before(q.msgs[j].due)
	})
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	return m, true
}

func (q *fakeQueue) peek() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return time.Time{}, false
	}
	min := q.msgs[0].due
	for _, m := range q.msgs {
		if m.due.Before(min) {
			min = m.due
		}
	}
	return min, true
}

type fakeLedger struct {
	mu    sync.Mutex
	m     map[string][]byte
	lists []string // the prefixes List was asked for
	// failGets fails the next n reads of each key ending in the suffix.
	failGets map[string]int
	reads    []string // the keys Get was asked for
}

func newLedger() *fakeLedger { return &fakeLedger{m: map[string][]byte{}} }
func (l *fakeLedger) Claim(_ context.Context, k string, v []byte) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[k]; ok {
		return false, nil
	}
	l.m[k] = v
	return true, nil
}
func (l *fakeLedger) Get(_ context.Context, k string) ([]byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads = append(l.reads, k)
	for suffix, n := range l.failGets {
		if n > 0 && strings.HasSuffix(k, suffix) {
			l.failGets[suffix] = n - 1
			return nil, false, errors.New("fake ledger: injected read failure of " + k)
		}
	}
	v, ok := l.m[k]
	return v, ok, nil
}
func (l *fakeLedger) Put(_ context.Context, k string, v []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[k] = v
	return nil
}
func (l *fakeLedger) Delete(_ context.Context, k string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, k)
	return nil
}
func (l *fakeLedger) List(_ context.Context, p string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lists = append(l.lists, p)
	var out []string
	for k := range l.m {
		if strings.HasPrefix(k, p) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

type recorder struct {
	mu          sync.Mutex
	notices     []Notice
	failSummary int // fail the next n run summaries, as a chat outage does
}

func (r *recorder) Notify(_ context.Context, n Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.Summary != nil && r.failSummary > 0 {
		r.failSummary--
		return errors.New("webhook: 502 bad gateway")
	}
	r.notices = append(r.notices, n)
	return nil
}
func (r *recorder) outcomes() map[string][]Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string][]Outcome{}
	for _, n := range r.notices {
		if n.Outcome != nil {
			m[n.Outcome.JobID] = append(m[n.Outcome.JobID], *n.Outcome)
		}
	}
	return m
}
func (r *recorder) summaries() []Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []Summary
	for _, n := range r.notices {
		if n.Summary != nil {
			s = append(s, *n.Summary)
		}
	}
	return s
}

type fakeJob struct {
	spec    provider.Spec
	started time.Time
}

// fakeProvider is a scripted cloud: jobs finish after dur; startErrs are
// returned by Start in order before it succeeds.
type fakeProvider struct {
	clk       *clocktest.Clock
	dur       time.Duration
	mu        sync.Mutex
	jobs      map[provider.Ref]*fakeJob
	starts    int
	startErrs []error
	statusErr []error
	failJobs  bool
	// outage makes Find and Start fail with outageErr until outageEnd, as
	// a gateway outage or a long throttling spell does.
	outageErr error
	outageEnd time.Time
}

func (p *fakeProvider) down() error {
	if p.outageErr != nil && p.clk.Now().Before(p.outageEnd) {
		return p.outageErr
	}
	return nil
}

func (p *fakeProvider) Start(_ context.Context, s provider.Spec) (provider.Ref, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.down(); err != nil {
		return "", err
	}
	if len(p.startErrs) > 0 {
		err := p.startErrs[0]
		p.startErrs = p.startErrs[1:]
		return "", err
	}
	p.starts++
	ref := provider.Ref(fmt.Sprintf("backup/%d", p.starts))
	if p.jobs == nil {
		p.jobs = map[provider.Ref]*fakeJob{}
	}
	p.jobs[ref] = &fakeJob{spec: s, started: p.clk.Now()}
	return ref, nil
}
func (p *fakeProvider) Status(_ context.Context, s provider.Spec, ref provider.Ref) (provider.Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.statusErr) > 0 {
		err := p.statusErr[0]
		p.statusErr = p.statusErr[1:]
		return provider.Status{}, err
	}
	j, ok := p.jobs[ref]
	if !ok {
		return provider.Status{}, apierr.New(apierr.Tencent, "fake", "Status", "ResourceNotFound", "no such job", "req-1", 0, nil)
	}
	if p.clk.Now().Sub(j.started) < p.dur {
		return provider.Status{State: provider.Running}, nil
	}
	if p.failJobs {
		return provider.Status{State: provider.Failed, Detail: "disk full"}, nil
	}
	return provider.Status{State: provider.Succeeded, BackupID: string(ref)}, nil
}
func (p *fakeProvider) Find(_ context.Context, s provider.Spec) (provider.Ref, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.down(); err != nil {
		return "", false, err
	}
	for ref, j := range p.jobs {
		if j.spec.Name == s.Name && j.spec.InstanceID == s.InstanceID {
			return ref, true, nil
		}
	}
	return "", false, nil
}

type harness struct {
	t                *testing.T
	clk              *clocktest.Clock
	work, poll, dead *fakeQueue
	ledger           *fakeLedger
	notes            *recorder
	prov             *fakeProvider
	svc              *Service
	dupEvery         int // deliver every n-th message twice
	delivered        int
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC))
	h := &harness{t: t, clk: clk, ledger: newLedger(), notes: &recorder{},
		work: &fakeQueue{name: "work", clk: clk, max: 900 * time.Second},
		poll: &fakeQueue{name: "poll", clk: clk, max: 900 * time.Second},
		dead: &fakeQueue{name: "dead", clk: clk},
		prov: &fakeProvider{clk: clk, dur: 7 * time.Minute}}
	svc, err := New(cfg, Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return h.prov, nil },
		Work:      h.work, Poll: h.poll, Dead: h.dead, Ledger: h.ledger, Notifier: h.notes,
		Now: clk.Now, Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h
}

// handleToOnePoll handles one step, which must send exactly one poll step.
func (h *harness) handleToOnePoll(m job.Message) {
	h.t.Helper()
	body, err := m.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Handle(context.Background(), body); err != nil {
		h.t.Fatal(err)
	}
	if h.poll.sent != 1 {
		h.t.Fatalf("%d poll steps sent; want 1", h.poll.sent)
	}
}

// run delivers due messages in time order until both queues are empty.
func (h *harness) run() {
	h.t.Helper()
	for i := 0; i < 100000; i++ {
		wt, wok := h.work.peek()
		pt, pok := h.poll.peek()
		if !wok && !pok {
			return
		}
		q := h.work
		if !wok || (pok && pt.Before(wt)) {
			q = h.poll
		}
		m, _ := q.next()
		h.clk.Set(m.due)
		h.delivered++
		times := 1
		if h.dupEvery > 0 && h.delivered%h.dupEvery == 0 {
			times = 2
		}
		for range times {
			if err := h.svc.Handle(context.Background(), m.body); err != nil {
				// Left for redelivery: the fake queue redelivers after 30 s.
				q.mu.Lock()
				q.msgs = append(q.msgs, qmsg{due: h.clk.Now().Add(30 * time.Second), body: m.body, seq: m.seq})
				q.mu.Unlock()
			}
		}
	}
	h.t.Fatal("queues never drained")
}
