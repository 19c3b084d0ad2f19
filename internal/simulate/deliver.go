package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/cron"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/memqueue"
)

// Timeouts are the deployed functions' (serverless.yml; a test keeps them
// equal): the drain's deadline, less the table's headroom, is where an
// invocation stops and leaves the rest to the next one.
var Timeouts = map[string]time.Duration{
	app.CreateBackup: 900 * time.Second,
	app.PollStatus:   120 * time.Second,
}

// Visibility is the deployed queues' visibility timeouts (serverless.yml's
// backupflow-work and backupflow-poll; a test keeps them equal): a paced
// drain holds received messages for as long as its deadline allows, and
// memqueue's default 30 s would hand a held one out again.
var Visibility = map[string]time.Duration{
	"work": 960 * time.Second,
	"poll": 180 * time.Second,
}

// tableHandler is the one way the simulator gets a handler: the function
// table's entry, built over a (a test forbids any other).
func tableHandler(a *app.App, name string) (invoke.Handler, error) {
	f, ok := app.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("simulate: %s is not in the function table", name)
	}
	return f.Handler(a, nil)
}

// deliverer invokes the deployed handlers as SCF's timers would, but at the
// instant a message becomes due rather than on the next minute's tick (the
// delivery an SQS trigger gives; see docs/benchmarks.md).
type deliverer struct {
	clk               *clocktest.Clock
	work, poll        *memqueue.Queue
	create, drainPoll invoke.Handler

	// meter bills each invocation its duration under the cost model.
	meter *meter
	// waited is the pacer's virtual waiting, for the first cost model's
	// figure (which billed it beside the calls).
	waited  time.Duration
	polling bool
	// requeued counts the sweep's re-sends of overdue steps (a drain that
	// falls behind makes its own backlog look lost).
	requeued int
	// io counts the ledger and queue calls; queues are the drained
	// queues' counting wrappers, by name, which record the drain timers'
	// firings that find work.
	io     *ioCount
	queues map[string]*countedQueue
}

func timerEvent(name, message string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]string{"Type": "Timer", "TriggerName": name, "Time": at.UTC().Format(time.RFC3339), "Message": message})
	return b
}

func (d *deliverer) invoke(ctx context.Context, name string, h invoke.Handler, payload []byte) ([]byte, error) {
	d.meter.begin(d.clk.Now())
	defer d.meter.end()
	ctx = invoke.WithMeta(ctx, invoke.Meta{Platform: "scf", FunctionName: name, Deadline: d.clk.Now().Add(Timeouts[name])})
	out, err := h(ctx, payload)
	var rep function.Report
	if err == nil && json.Unmarshal(out, &rep) == nil {
		d.requeued += rep.Requeued
	}
	return out, err
}

// nightly runs the nightly timer through create-backup and returns the
// run's job ids.
func (d *deliverer) nightly(ctx context.Context, at time.Time) ([]string, error) {
	out, err := d.invoke(ctx, app.CreateBackup, d.create, timerEvent("nightly-backup", "", at))
	if err != nil {
		return nil, err
	}
	var rep function.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("nightly report %s: %w", out, err)
	}
	return rep.Jobs, nil
}

func (d *deliverer) due(q *memqueue.Queue) bool {
	t, ok := q.NextDue()
	return ok && !t.After(d.clk.Now())
}

// drainPolls invokes poll-status's drain while poll messages are due.
func (d *deliverer) drainPolls(ctx context.Context) error {
	d.polling = true
	defer func() { d.polling = false }()
	for d.due(d.poll) {
		if _, err := d.invoke(ctx, app.PollStatus, d.drainPoll, timerEvent("poll-status-drain", function.DrainMessage, d.clk.Now())); err != nil {
			return err
		}
	}
	return nil
}

// run delivers until both queues are empty or the next message is due
// after horizon.
func (d *deliverer) run(ctx context.Context, horizon time.Time) error {
	for {
		for d.due(d.work) {
			if _, err := d.invoke(ctx, app.CreateBackup, d.create, timerEvent("create-backup-drain", function.DrainMessage, d.clk.Now())); err != nil {
				return err
			}
		}
		if err := d.drainPolls(ctx); err != nil {
			return err
		}
		next, ok := earliest(d.work, d.poll)
		if !ok || next.After(horizon) {
			return nil
		}
		d.clk.Set(next)
	}
}

// sleep serves the pacer of create-backup's drain. poll-status is another
// function, running beside it on the platform: status checks that come due
// while the pacer waits are delivered at their time, then the clock moves
// to the pacer's wake-up.
func (d *deliverer) sleep(ctx context.Context, wait time.Duration) error {
	d.waited += wait
	wake := d.clk.Now().Add(wait)
	for !d.polling {
		t, ok := d.poll.NextDue()
		if !ok || t.After(wake) {
			break
		}
		d.clk.Set(t)
		if err := d.drainPolls(ctx); err != nil {
			return err
		}
	}
	if err := d.clk.Sleep(ctx, wake.Sub(d.clk.Now())); err != nil {
		return err
	}
	d.meter.wait(wake)
	return nil
}

// deployed is one simulated deployment: the deployed create-backup and
// poll-status built from the function table over a real flow.Service, its
// queues (memqueue, at the deployed visibility timeouts) and an indexed
// mem:// ledger, all on clk.
type deployed struct {
	d     *deliverer
	led   *indexedLedger
	notes *outcomes
}

// newDeployed wires a deployment for the fleet simulation and the
// retention simulation alike, so both measure the same code path.
func newDeployed(ctx context.Context, clk *clocktest.Clock, ledgerName string, duplicates float64, seed uint64,
	cfg flow.Config, providers func(provider.Product) (provider.Provider, error)) (*deployed, error) {
	base, err := ledger.Open(ctx, ledgerName, openurl.Env{Now: clk.Now})
	if err != nil {
		return nil, err
	}
	led := newIndexedLedger(base)
	qo := func(salt uint64, visibility time.Duration) *memqueue.Options {
		return &memqueue.Options{Now: clk.Now, DuplicateRate: duplicates, Seed: seed ^ salt, VisibilityTimeout: visibility}
	}
	work, poll := memqueue.New("work", qo(1, Visibility["work"])), memqueue.New("poll", qo(2, Visibility["poll"]))
	dead := memqueue.New("dead", qo(3, 0))
	n := &ioCount{}
	queues := map[string]*countedQueue{}
	for name, q := range map[string]*memqueue.Queue{"work": work, "poll": poll} {
		queues[name] = &countedQueue{Queue: q, n: n, now: clk.Now}
	}
	for _, t := range DrainTimers {
		s, err := cron.Parse(t.Cron)
		if err != nil {
			return nil, fmt.Errorf("simulate: drain timer %s: %w", t.Trigger, err)
		}
		queues[t.Queue].timer = s
	}
	wq, pq, dq := queue.New("work", queues["work"]), queue.New("poll", queues["poll"]), queue.New("dead", &countedQueue{Queue: dead, n: n, now: clk.Now})
	notes := newOutcomes()
	discard := slog.New(slog.DiscardHandler)
	svc, err := flow.New(cfg, flow.Deps{
		Providers: providers, Work: wq, Poll: pq, Dead: dq, Ledger: countedLedger{led, n}, Notifier: notes, Now: clk.Now,
		Logger: discard, Seed: seed | 1,
	})
	if err != nil {
		return nil, err
	}
	d := &deliverer{clk: clk, work: work, poll: poll, io: n, queues: queues}
	for _, q := range queues {
		q.done = func() { d.meter.done() }
	}
	// One drain worker: the simulation's calls take no virtual time and
	// its clock is one goroutine's, so workers would only make the figures
	// depend on scheduling; the cost model gives the drain the deployed
	// workers as lanes instead (bill.go, DrainLanes).
	a := &app.App{Service: svc, Work: wq, Poll: pq, Dead: dq, Log: discard, Now: clk.Now, Sleep: d.sleep, Cfg: config.Config{DrainWorkers: 1}}
	if d.create, err = tableHandler(a, app.CreateBackup); err != nil {
		return nil, err
	}
	if d.drainPoll, err = tableHandler(a, app.PollStatus); err != nil {
		return nil, err
	}
	return &deployed{d: d, led: led, notes: notes}, nil
}
