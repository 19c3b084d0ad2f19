package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue/memqueue"
)

// Strategy names.
const (
	Flow   = "backupflow"
	Fixed  = "fixed-30s"
	Rescan = "rescan-10m"
)

// Options configure a simulation.
type Options struct {
	Instances  int
	Mix        map[provider.Product]float64 // default DefaultMix
	Faults     float64                      // share of cloud calls broken
	Duplicates float64                      // share of queue messages delivered twice
	Seed       uint64
	Nights     int // default 2: the second night shows the effect of duration history
	MemoryMB   int // function memory for the GB-s estimate; default 64
	// Strategies to run; default all four.
	Strategies []string
	// Flow tunes the flow under test (zero: the production defaults).
	Flow flow.Config
	// Cost model of one invocation, for the GB-s estimate: billed time is
	// InvocationOverhead plus the invocation's duration with each cloud
	// API call taking CallLatency (bill.go).
	CallLatency        time.Duration // default 100 ms, a typical regional API round trip
	InvocationOverhead time.Duration // default 5 ms
}

func (o Options) withDefaults() Options {
	if o.Mix == nil {
		o.Mix = DefaultMix
	}
	if o.Nights <= 0 {
		o.Nights = 2
	}
	if o.MemoryMB <= 0 {
		o.MemoryMB = 64
	}
	if len(o.Strategies) == 0 {
		o.Strategies = []string{Flow, Oracle, Fixed, Rescan}
	}
	if o.CallLatency == 0 {
		o.CallLatency = 100 * time.Millisecond
	}
	if o.InvocationOverhead == 0 {
		o.InvocationOverhead = 5 * time.Millisecond
	}
	return o
}

// Night is what one strategy did in one night.
type Night struct {
	Strategy string `json:"strategy"`
	Night    int    `json:"night"`
	Jobs     int    `json:"jobs"`

	Succeeded          int `json:"succeeded"`
	Failed             int `json:"failed"`
	FailedByThrottling int `json:"failedByThrottling"`
	// FailedByFaults counts jobs ended by a transient fault (dead-lettered,
	// or failed with a code that is not permanent): with every injected
	// fault transient, any such job is one the retries should have saved.
	FailedByFaults int            `json:"failedByFaults"`
	FailReasons    map[string]int `json:"failReasons,omitempty"`
	Lost           int            `json:"lost"`       // no outcome at all
	Duplicates     int            `json:"duplicates"` // cloud backups beyond one per job

	Makespan   time.Duration `json:"makespanNs"`   // t0 → the last create accepted, in 1-s windows
	LowerBound time.Duration `json:"lowerBoundNs"` // what the create rate limits allow at best
	// FaultBound is LowerBound over the share of calls not lost to faults:
	// a failed call still counts against the limit.
	FaultBound time.Duration `json:"faultAdjustedBoundNs"`

	StatusMean float64 `json:"statusCallsMean"`
	StatusP95  float64 `json:"statusCallsP95"`
	CallsMean  float64 `json:"apiCallsMean"` // every cloud call, creates and lookups included

	LatencyMean      time.Duration `json:"detectionMeanNs"`
	LatencyP95       time.Duration `json:"detectionP95Ns"`
	LatencyShareMean float64       `json:"detectionShareMean"` // latency / the job's duration
	LatencyShareP95  float64       `json:"detectionShareP95"`

	Throttled         int           `json:"throttledCalls"`
	InjectedThrottles int           `json:"injectedThrottles"`    // of which the fault injector's
	ThrottledStatus   int           `json:"throttledStatusCalls"` // of which status reads
	Invocations       int           `json:"invocations"`
	PacerWait         time.Duration `json:"pacerWaitNs"`   // the drain pacer's waits, billed
	SweepRequeued     int           `json:"sweepRequeued"` // steps the sweep sent again as overdue
	InvocationsPerJob float64       `json:"invocationsPerJob"`
	// GBsPerJob bills each invocation its duration under the cost model
	// (bill.go); GBsPerJobCallsPlusWaits is the first model's figure,
	// which billed each call and each pacer wait apart.
	GBsPerJob               float64 `json:"gbSecondsPerJob"`
	GBsPerJobCallsPlusWaits float64 `json:"gbSecondsPerJobCallsPlusWaits"`
	// LateSlots counts the booked slots an invocation reached late under
	// the model (its calls at CallLatency each took longer than the slots
	// allowed); LateMax is the latest.
	LateSlots int           `json:"lateSlots"`
	LateMax   time.Duration `json:"lateMaxNs"`
	// DrainLanes is the model's lane count for the deployed drain
	// (bill.go); LateSlotsLanes and LateMaxLanes are LateSlots and LateMax
	// with that many (only the deployed strategy's drain has them).
	// GBsPerJob is billed at DrainLanes, GBsPerJobSerial at one.
	DrainLanes      int           `json:"drainLanes,omitempty"`
	LateSlotsLanes  int           `json:"lateSlotsLanes"`
	LateMaxLanes    time.Duration `json:"lateMaxLanesNs"`
	GBsPerJobSerial float64       `json:"gbSecondsPerJobSerial"`
	// Timers are the day's timer firings around this night: the SCF drain
	// timers' (ours) or the scans' (rescan-10m), with what the empty ones
	// cost.
	Timers []TimerDay `json:"timers,omitempty"`

	Wall time.Duration `json:"wallNs"`
	// CPU is the process's CPU time over the night (user + system, the
	// garbage collector's included): unlike Wall, it does not grow with
	// the other load on the machine.
	CPU time.Duration `json:"cpuNs"`
}

// Report is a whole simulation.
type Report struct {
	Instances  int                      `json:"instances"`
	PerProduct map[provider.Product]int `json:"perProduct"`
	Faults     float64                  `json:"faults"`
	Duplicates float64                  `json:"duplicates"`
	Seed       uint64                   `json:"seed"`
	MemoryMB   int                      `json:"memoryMb"`
	CostModel  string                   `json:"costModel"`
	Nights     []Night                  `json:"nights"`
	Wall       time.Duration            `json:"wallNs"`
	CPU        time.Duration            `json:"cpuNs"`
}

// Find returns the figures of one strategy and night.
func (r Report) Find(strategy string, night int) (Night, bool) {
	for _, n := range r.Nights {
		if n.Strategy == strategy && n.Night == night {
			return n, true
		}
	}
	return Night{}, false
}

// epoch is where virtual time starts: a fixed night, so runs are
// reproducible and every date in the emulator looks plausible.
var epoch = time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)

// Run simulates o.Nights nights for every strategy.
func Run(ctx context.Context, o Options) (Report, error) {
	o = o.withDefaults()
	if o.Instances <= 0 {
		return Report{}, errors.New("simulate: instances must be positive")
	}
	if o.Faults < 0 || o.Faults > 1 || o.Duplicates < 0 || o.Duplicates > 1 {
		return Report{}, errors.New("simulate: fault and duplicate rates must be within 0..1")
	}
	start, cpuStart := time.Now(), cpuTime()
	fl := newFleet(o.Instances, o.Mix, o.Seed)
	rep := Report{Instances: o.Instances, PerProduct: fl.perProd, Faults: o.Faults, Duplicates: o.Duplicates,
		Seed: o.Seed, MemoryMB: o.MemoryMB,
		CostModel: fmt.Sprintf("billed time per invocation = %s + its duration, a cloud API call taking %s and a pacer wait lasting until its slot, at %d MB",
			o.InvocationOverhead, o.CallLatency, o.MemoryMB)}
	for _, s := range o.Strategies {
		var nights []Night
		var err error
		switch s {
		case Flow:
			nights, err = runFlow(ctx, o, fl)
		case Fixed:
			nights, err = runFixed(ctx, o, fl)
		case Rescan:
			nights, err = runRescan(ctx, o, fl)
		case Oracle:
			nights, err = runOracle(ctx, o, fl)
		default:
			err = fmt.Errorf("simulate: unknown strategy %q", s)
		}
		if err != nil {
			return rep, err
		}
		rep.Nights = append(rep.Nights, nights...)
	}
	rep.Wall, rep.CPU = time.Since(start), cpuTime()-cpuStart
	return rep, nil
}

var ledgerSeq atomic.Int64

// runFlow runs the deployed functions: create-backup and poll-status are
// built from the function table (app.Functions) over the real flow.Service,
// and invoked as SCF invokes them — the nightly timer, then the drain
// timers — so the drain loop, its pacer, headroom and batch size are the
// deployed ones. Virtual time: the pacer's waits move the clock (see
// deliverer.sleep), nothing sleeps.
func runFlow(ctx context.Context, o Options, fl *fleet) ([]Night, error) {
	clk := clocktest.New(epoch)
	var w *world
	cfg := o.Flow
	cfg.Targets = nil
	for _, in := range fl.instances {
		cfg.Targets = append(cfg.Targets, flow.Target{InstanceID: in.ID, Product: in.Product, Region: in.RegionOrDefault()})
	}
	cfg.MaxTargets = max(cfg.MaxTargets, len(cfg.Targets))
	cfg.QuietSuccess = true
	dep, err := newDeployed(ctx, clk, fmt.Sprintf("mem://simulate-%d-%d", o.Seed, ledgerSeq.Add(1)), o.Duplicates, o.Seed, cfg,
		func(p provider.Product) (provider.Provider, error) { return w.provider(p) })
	if err != nil {
		return nil, err
	}
	d, led := dep.d, dep.led
	var out []Night
	for night := range o.Nights {
		wallStart, cpuStart := time.Now(), cpuTime()
		at := epoch.Add(time.Duration(night) * 24 * time.Hour)
		clk.Set(at)
		if w, err = newWorld(clk, fl.night(o.Seed, night), injector(o.Faults, o.Seed+uint64(night)*7919)); err != nil {
			return nil, err
		}
		d.meter = newMeter(o.InvocationOverhead, o.CallLatency, DrainLanes)
		d.meter.now = clk.Now
		w.calls.meter = d.meter
		d.waited, d.requeued = 0, 0
		for _, q := range d.queues {
			q.found = map[time.Time]bool{}
		}
		jobs, err := d.nightly(ctx, at)
		if err != nil {
			return nil, fmt.Errorf("simulate: nightly fan-out: %w", err)
		}
		if err := d.run(ctx, at.Add(20*time.Hour)); err != nil {
			return nil, err
		}
		recs := make([]jobRec, 0, len(jobs))
		for _, id := range jobs {
			r := jobRec{name: job.Name(id)}
			if oc, ok := readOutcome(ctx, led, id); ok {
				r.done, r.noticed, r.result = true, oc.Finished, string(oc.Result)
				r.throttledOut = oc.Result != flow.Succeeded && isThrottleCode(oc.Code)
				r.transientOut = oc.Result == flow.DeadLettered || (oc.Result == flow.Failed && isTransientCode(oc.Code))
				if oc.Result != flow.Succeeded {
					r.code = oc.Code
				}
			}
			recs = append(recs, r)
		}
		n := measure(Flow, night, recs, w, fl, at, o, d.meter, d.waited)
		n.PacerWait, n.SweepRequeued = d.waited, d.requeued
		for _, t := range DrainTimers {
			q := d.queues[t.Queue]
			n.Timers = append(n.Timers, TimerDay{Timer: t.Trigger, Function: t.Function, Cron: t.Cron,
				Firings: len(firings(q.timer, at, at.Add(24*time.Hour))), WithWork: len(q.found)})
			q.found = nil
		}
		n.Wall, n.CPU = time.Since(wallStart), cpuTime()-cpuStart
		out = append(out, n)
		d.work.Purge()
		d.poll.Purge()
	}
	// The nights above invoke a drain when a message comes due; on SCF the
	// drain timers also fire, every minute, when none is. What those empty
	// firings cost is measured here, through the same handlers over the
	// ledger the nights left.
	from := clk.Now().Truncate(time.Minute).Add(time.Minute)
	idle, err := d.idleDay(ctx, from, o.InvocationOverhead, o.CallLatency, w.calls)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for j := range out[i].Timers {
			td := &out[i].Timers[j]
			v := idle[td.Timer]
			if v.empty == 0 {
				continue
			}
			td.Empty = td.Firings - td.WithWork
			td.CallsPerEmpty = float64(v.calls) / float64(v.empty)
			td.BilledPerEmpty = v.billed / time.Duration(v.empty)
			td.GBsPerDay = gbs(o, time.Duration(td.Empty)*td.BilledPerEmpty)
			if td.Function == app.CreateBackup {
				td.CallsPerEmptyBefore = float64(v.calls+v.gated) / float64(v.empty)
				td.GBsPerDayBefore = gbs(o, time.Duration(td.Empty)*(v.billed+time.Duration(v.gated)*o.CallLatency)/time.Duration(v.empty))
			}
		}
	}
	return out, nil
}

// gbs is billed time in GB-s at the model's memory.
func gbs(o Options, billed time.Duration) float64 {
	return billed.Seconds() * float64(o.MemoryMB) / 1024
}

// isTransientCode: the code is one some cloud's table does not call
// permanent (the outcome does not say which cloud answered).
func isTransientCode(code string) bool {
	if code == "" {
		return false
	}
	for _, cloud := range []string{apierr.Tencent, apierr.Huawei} {
		if apierr.Classify(cloud, code) != apierr.Permanent {
			return true
		}
	}
	return false
}

func isThrottleCode(code string) bool {
	return strings.Contains(code, "RequestLimitExceeded") || strings.Contains(code, "TooManyRequests") || code == "APIGW.0308"
}

func earliest(qs ...*memqueue.Queue) (time.Time, bool) {
	var t time.Time
	found := false
	for _, q := range qs {
		if d, ok := q.NextDue(); ok && (!found || d.Before(t)) {
			t, found = d, true
		}
	}
	return t, found
}

// jobRec is one job as a strategy saw it.
type jobRec struct {
	name         string
	done         bool      // has an outcome
	noticed      time.Time // when the strategy learned the job's end
	result       string
	throttledOut bool // ended failed because of throttling
	transientOut bool // ended by a transient fault (dead-lettered or a non-permanent code)
	code         string
}

// readOutcome reads a job's one outcome from the ledger, where the flow
// records it whether or not anybody is notified.
func readOutcome(ctx context.Context, l flow.Ledger, id string) (flow.Outcome, bool) {
	b, ok, err := l.Get(ctx, "jobs/"+id+"/outcome")
	if err != nil || !ok {
		return flow.Outcome{}, false
	}
	var o flow.Outcome
	if json.Unmarshal(b, &o) != nil {
		return flow.Outcome{}, false
	}
	return o, true
}

// measure turns the strategy's view and the emulator's truth into figures.
// m holds the night's invocations as the cost model bills them; waited is
// the drain pacer's waiting, for the first model's figure.
func measure(strategy string, night int, recs []jobRec, w *world, fl *fleet, at time.Time, o Options, m *meter, waited time.Duration) Night {
	invocations := m.invocations()
	n := Night{Strategy: strategy, Night: night + 1, Jobs: len(recs), LowerBound: fl.lowerBound(), Invocations: invocations,
		LateSlots: m.lateWaits[0], LateMax: m.late[0]}
	last := len(m.widths) - 1
	n.DrainLanes, n.LateSlotsLanes, n.LateMaxLanes = m.widths[last], m.lateWaits[last], m.late[last]
	n.FaultBound = time.Duration(float64(n.LowerBound) / (1 - min(o.Faults, 0.99)))
	truth := emuJobs(w.emu)
	var statusCalls []float64
	var lat []time.Duration
	var share []float64
	var lastCreate time.Time
	for _, r := range recs {
		js := truth[r.name]
		if len(js) > 1 {
			n.Duplicates += len(js) - 1
		}
		for _, j := range js {
			if j.Created.After(lastCreate) {
				lastCreate = j.Created
			}
		}
		switch {
		case !r.done:
			n.Lost++
		case r.result == string(flow.Succeeded):
			n.Succeeded++
		default:
			n.Failed++
			if n.FailReasons == nil {
				n.FailReasons = map[string]int{}
			}
			n.FailReasons[r.result+":"+r.code]++
			if r.throttledOut {
				n.FailedByThrottling++
			}
			if r.transientOut {
				n.FailedByFaults++
			}
		}
		if len(js) == 0 {
			continue
		}
		statusCalls = append(statusCalls, float64(w.calls.status[r.name]))
		j := js[0]
		if r.done && !j.Finished.IsZero() && !r.noticed.IsZero() {
			d := max(r.noticed.Sub(j.Finished), 0)
			lat = append(lat, d)
			if dur := j.Finished.Sub(j.Created); dur > 0 {
				share = append(share, float64(d)/float64(dur))
			}
		}
	}
	if !lastCreate.IsZero() {
		n.Makespan = lastCreate.Sub(at).Truncate(time.Second) + time.Second
	}
	n.StatusMean, n.StatusP95 = meanP95(statusCalls)
	st, other := w.calls.total()
	if len(recs) > 0 {
		n.CallsMean = float64(st+other) / float64(len(recs))
		n.InvocationsPerJob = float64(invocations) / float64(len(recs))
		n.GBsPerJob = gbs(o, m.billed()) / float64(len(recs))
		n.GBsPerJobSerial = gbs(o, m.billedAt(0)) / float64(len(recs))
		// The first model, kept beside the new one for comparison: every
		// call and every pacer wait billed apart (bill.go says why not).
		n.GBsPerJobCallsPlusWaits = gbs(o, time.Duration(invocations)*o.InvocationOverhead+time.Duration(st+other)*o.CallLatency+waited) / float64(len(recs))
	}
	lf := make([]float64, len(lat))
	for i, d := range lat {
		lf[i] = float64(d)
	}
	mean, p := meanP95(lf)
	n.LatencyMean, n.LatencyP95 = time.Duration(mean), time.Duration(p)
	n.LatencyShareMean, n.LatencyShareP95 = meanP95(share)
	n.Throttled, n.ThrottledStatus = w.calls.throttled, w.calls.throttledStatus
	if w.emu.Faults != nil {
		n.InjectedThrottles = w.emu.Faults.Counts()[fault.Throttle]
	}
	return n
}

// meanP95 returns the mean and the 95th percentile (nearest rank).
func meanP95(xs []float64) (mean, p95 float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	idx := int(math.Ceil(0.95*float64(len(s)))) - 1
	return sum / float64(len(s)), s[max(idx, 0)]
}
