package simulate

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/memqueue"
	"github.com/backupflow/backupflow/pkg/retention"
)

// Predict is a plan's window, from a simulated night: one instance per
// planned job, whose backup takes the job's expected duration (the
// instance's recorded one where the plan found it), run through the
// deployed create-backup and poll-status on a virtual clock from the
// plan's time, against the emulator's model with its rate limits and no
// faults. The simulation's ledger holds the same duration history, so the
// status checks are planned as they will be that night; each job's finish
// is when its outcome was recorded. cfg is the deployment's flow settings
// (poll bounds and shares, deadlines); its targets and discovery are
// replaced by the plan's jobs.
func Predict(ctx context.Context, p flow.Plan, cfg flow.Config) (flow.Window, error) {
	if len(p.Jobs) == 0 {
		return flow.Window{Basis: "no jobs"}, nil
	}
	at := p.At.UTC()
	clk := clocktest.New(at)
	base, err := ledger.Open(ctx, fmt.Sprintf("mem://predict-%d", ledgerSeq.Add(1)), openurl.Env{Now: clk.Now})
	if err != nil {
		return flow.Window{}, err
	}
	led := newIndexedLedger(base)
	def := fixture.Default()
	set := &fixture.Set{HuaweiProjectID: def.HuaweiProjectID, AppID: def.AppID, Uin: def.Uin, Buckets: def.Buckets}
	cfg.Targets, cfg.DiscoverTag, cfg.QuietSuccess = nil, "", true
	cfg.MaxTargets = max(cfg.MaxTargets, len(p.Jobs))
	// Retention runs after the backups and ends none of them.
	cfg.Retention, cfg.RetentionDelete = retention.Rule{}, false
	fromHistory := 0
	for _, j := range p.Jobs {
		in := fixture.Instance{ID: j.Instance, Product: j.Product, Name: j.Instance, Duration: j.Expected.Round(time.Second)}
		switch j.Product {
		case provider.SQLServer:
			in.Databases = []fixture.Database{{Name: "db1"}}
		case provider.HuaweiRDS:
			// The one region and engine the simulated world's adapter serves.
			in.Region, in.Engine = "cn-north-4", "MySQL"
		}
		set.Instances = append(set.Instances, in)
		// The method is left to the product's default: the simulated
		// instance takes the job's duration whatever the method.
		cfg.Targets = append(cfg.Targets, flow.Target{InstanceID: in.ID, Product: in.Product, Region: in.RegionOrDefault()})
		if j.FromHistory {
			fromHistory++
			spec := provider.Spec{Op: provider.Backup, Product: j.Product, InstanceID: j.Instance}
			if err := led.Put(ctx, flow.HistoryKey(spec), []byte(strconv.FormatInt(j.Expected.Milliseconds(), 10))); err != nil {
				return flow.Window{}, err
			}
		}
	}
	w, err := newWorld(clk, set, nil)
	if err != nil {
		return flow.Window{}, err
	}
	qo := &memqueue.Options{Now: clk.Now}
	work, poll, dead := memqueue.New("work", qo), memqueue.New("poll", qo), memqueue.New("dead", qo)
	wq, pq, dq := queue.New("work", work), queue.New("poll", poll), queue.New("dead", dead)
	discard := slog.New(slog.DiscardHandler)
	svc, err := flow.New(cfg, flow.Deps{Providers: w.provider, Work: wq, Poll: pq, Dead: dq, Ledger: led,
		Notifier: newOutcomes(), Now: clk.Now, Logger: discard, Seed: 1})
	if err != nil {
		return flow.Window{}, err
	}
	d := &deliverer{clk: clk, work: work, poll: poll}
	// One drain worker: the simulation's calls take no virtual time and
	// its clock is one goroutine's, so workers would only make the figures
	// depend on scheduling; the cost model gives the drain the deployed
	// workers as lanes instead (bill.go, DrainLanes).
	a := &app.App{Service: svc, Work: wq, Poll: pq, Dead: dq, Log: discard, Now: clk.Now, Sleep: d.sleep, Cfg: config.Config{DrainWorkers: 1}}
	if d.create, err = tableHandler(a, app.CreateBackup); err != nil {
		return flow.Window{}, err
	}
	if d.drainPoll, err = tableHandler(a, app.PollStatus); err != nil {
		return flow.Window{}, err
	}
	jobs, err := d.nightly(ctx, at)
	if err != nil {
		return flow.Window{}, fmt.Errorf("simulate: nightly fan-out: %w", err)
	}
	if err := d.run(ctx, at.Add(48*time.Hour)); err != nil {
		return flow.Window{}, err
	}
	var finishes []time.Duration
	for _, id := range jobs {
		oc, ok := readOutcome(ctx, led, id)
		if !ok {
			return flow.Window{}, fmt.Errorf("simulate: job %s has no outcome after 48 h of the simulated night", id)
		}
		finishes = append(finishes, oc.Finished.Sub(at))
	}
	slices.Sort(finishes)
	rank := func(q float64) time.Duration { // nearest rank
		return finishes[max(int(math.Ceil(q*float64(len(finishes))))-1, 0)]
	}
	return flow.Window{P50: rank(0.5), P95: rank(0.95), Last: finishes[len(finishes)-1],
		Basis: fmt.Sprintf("a simulated night of the %d jobs through the deployed functions on a virtual clock, each taking its instance's recorded duration (%d of %d; the rest their product's typical one), at the products' rate limits, without faults",
			len(finishes), fromHistory, len(finishes))}, nil
}
