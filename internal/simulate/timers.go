package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/backupflow/backupflow/internal/cron"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/queue/driver"
)

// DrainTimer is one of the SCF drain timers as serverless.yml deploys it
// (a test keeps them equal). CMQ queues cannot trigger SCF, so these fire
// every minute, day and night, whether or not their queue holds work. The
// one-minute cadence is kept on purpose: it bounds how long a backup asked
// for in chat waits to start and how late a daytime check is, and an
// empty firing costs about 0.1 s by the model (below, measured).
type DrainTimer struct {
	Trigger  string // the trigger's name in serverless.yml
	Function string
	Queue    string // the queue its function drains ("work", "poll")
	Cron     string
}

// DrainTimers are the deployed drain timers.
var DrainTimers = []DrainTimer{
	{Trigger: "drain-work", Function: app.CreateBackup, Queue: "work", Cron: "0 */1 * * * * *"},
	{Trigger: "drain-poll", Function: app.PollStatus, Queue: "poll", Cron: "30 */1 * * * * *"},
}

// firings returns the instants in [from, to) at which s fires.
func firings(s *cron.Schedule, from, to time.Time) []time.Time {
	var out []time.Time
	for t := atOrAfter(s, from); !t.IsZero() && t.Before(to); t = s.Next(t) {
		out = append(out, t)
	}
	return out
}

// atOrAfter is the first firing of s at t or later.
func atOrAfter(s *cron.Schedule, t time.Time) time.Time {
	if t.Equal(t.Truncate(time.Second)) && s.Matches(t) {
		return t
	}
	return s.Next(t)
}

// TimerDay is what one timer's firings cost in a day holding one night.
type TimerDay struct {
	Timer    string `json:"timer"`
	Function string `json:"function,omitempty"`
	Cron     string `json:"cron,omitempty"`
	Firings  int    `json:"firingsPerDay"`
	// WithWork counts the firings that find work: for a drain timer, the
	// distinct firing instants by which its queue held a due message
	// during the night (each receive that returned messages at t marks the
	// first firing at or after t: there the timer would have found it).
	WithWork int `json:"withWork"`
	Empty    int `json:"empty"`
	// CallsPerEmpty and BilledPerEmpty are measured: the deployed handler
	// fired on empty queues through a simulated idle day (sweeps and all),
	// every ledger, queue and cloud call counted, billed by the cost model.
	CallsPerEmpty  float64       `json:"callsPerEmpty"`
	BilledPerEmpty time.Duration `json:"billedPerEmptyNs"`
	GBsPerDay      float64       `json:"emptyGbSecondsPerDay"`
	// Before is the same without the sweep gate's memory (flow.Service
	// remembers its latest sweep): each empty create drain between sweeps
	// read the gate from the ledger too.
	CallsPerEmptyBefore float64 `json:"callsPerEmptyBefore,omitempty"`
	GBsPerDayBefore     float64 `json:"emptyGbSecondsPerDayBefore,omitempty"`
}

// ioCount counts the ledger and queue calls of the simulated deployment
// (the world counts the cloud calls, per job). When bill is set, each is
// billed as a call too: the idle day's empty invocations make nothing
// else. The nights' figures bill only cloud calls, as they always have.
type ioCount struct {
	ledger, queue int
	bill          *meter
}

func (n *ioCount) ledgerCall() { n.ledger++; n.bill.call() }
func (n *ioCount) queueCall()  { n.queue++; n.bill.call() }

// countedLedger counts every ledger call the flow makes.
type countedLedger struct {
	*indexedLedger
	n *ioCount
}

func (l countedLedger) Claim(ctx context.Context, key string, value []byte) (bool, error) {
	l.n.ledgerCall()
	return l.indexedLedger.Claim(ctx, key, value)
}

func (l countedLedger) Get(ctx context.Context, key string) ([]byte, bool, error) {
	l.n.ledgerCall()
	return l.indexedLedger.Get(ctx, key)
}

func (l countedLedger) Put(ctx context.Context, key string, value []byte) error {
	l.n.ledgerCall()
	return l.indexedLedger.Put(ctx, key, value)
}

func (l countedLedger) List(ctx context.Context, prefix string) ([]string, error) {
	l.n.ledgerCall()
	return l.indexedLedger.List(ctx, prefix)
}

func (l countedLedger) Delete(ctx context.Context, key string) error {
	l.n.ledgerCall()
	return l.indexedLedger.Delete(ctx, key)
}

var _ flow.Ledger = countedLedger{}

// countedQueue counts a queue's calls and notes, for its drain timer, the
// firings by which it held a due message.
type countedQueue struct {
	driver.Queue
	n     *ioCount
	now   func() time.Time
	timer *cron.Schedule
	found map[time.Time]bool // nil: not recording
	// done, when set, is told each delete: a drain's handled message
	// ended (the cost model's lanes, bill.go).
	done func()
}

func (q *countedQueue) Send(ctx context.Context, body []byte, delay time.Duration) (string, error) {
	q.n.queueCall()
	return q.Queue.Send(ctx, body, delay)
}

func (q *countedQueue) Receive(ctx context.Context, max int, wait time.Duration) ([]driver.Message, error) {
	q.n.queueCall()
	ms, err := q.Queue.Receive(ctx, max, wait)
	if len(ms) > 0 && q.found != nil && q.timer != nil {
		q.found[atOrAfter(q.timer, q.now())] = true
	}
	return ms, err
}

func (q *countedQueue) Delete(ctx context.Context, receipt string) error {
	q.n.queueCall()
	if q.done != nil {
		defer q.done()
	}
	return q.Queue.Delete(ctx, receipt)
}

// idle is what a timer's empty firings cost through an idle day: their
// count, calls and billed time, and the create drains that read no ledger
// (the sweep gate's memory answered; without it each read the gate once).
type idle struct {
	empty, calls, gated int
	billed              time.Duration
}

// idleDay fires the deployed drain timers at their cron instants for one
// day from from, on queues that hold nothing.
// cloud counts the cloud calls (none are expected: nothing is due).
func (d *deliverer) idleDay(ctx context.Context, from time.Time, overhead, latency time.Duration, cloud *callCounter) (map[string]idle, error) {
	type firing struct {
		at time.Time
		t  DrainTimer
	}
	var fs []firing
	for _, t := range DrainTimers {
		s, err := cron.Parse(t.Cron)
		if err != nil {
			return nil, fmt.Errorf("simulate: drain timer %s: %w", t.Trigger, err)
		}
		for _, at := range firings(s, from, from.Add(24*time.Hour)) {
			fs = append(fs, firing{at, t})
		}
	}
	// In time order, as the platform fires them.
	slices.SortStableFunc(fs, func(a, b firing) int { return a.at.Compare(b.at) })
	out := map[string]idle{}
	d.meter = newMeter(overhead, latency)
	d.io.bill, cloud.meter = d.meter, d.meter
	defer func() { d.io.bill, cloud.meter = nil, nil }()
	for _, f := range fs {
		d.clk.Set(f.at)
		h := d.create
		if f.t.Function == app.PollStatus {
			h = d.drainPoll
		}
		before, billed, cloudBefore := *d.io, d.meter.billed(), cloud.calls()
		res, err := d.invoke(ctx, f.t.Function, h, timerEvent(f.t.Trigger, function.DrainMessage, f.at))
		if err != nil {
			return nil, err
		}
		var rep function.Report
		if err := json.Unmarshal(res, &rep); err != nil {
			return nil, fmt.Errorf("simulate: %s report %s: %w", f.t.Function, res, err)
		}
		if rep.Drained > 0 || rep.Failed > 0 {
			continue // the sweep sent something after all: not an empty firing
		}
		v := out[f.t.Trigger]
		v.empty++
		ledger := d.io.ledger - before.ledger
		v.calls += ledger + d.io.queue - before.queue + cloud.calls() - cloudBefore
		v.billed += d.meter.billed() - billed
		if f.t.Function == app.CreateBackup && ledger == 0 {
			v.gated++
		}
		out[f.t.Trigger] = v
	}
	return out, nil
}
