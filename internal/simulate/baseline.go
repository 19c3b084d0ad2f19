package simulate

import (
	"container/heap"
	"context"
	"math"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// The baselines are small alternative drivers over the same emulator model
// and the same provider adapters: only the scheduling differs.
const (
	fixedInterval   = 30 * time.Second
	fixedAttempts   = 3 // immediate tries per call, as naive retry loops do
	rescanInterval  = 10 * time.Minute
	rescanAttempts  = 3 // create tries, one per scan
	baselineHorizon = 6 * time.Hour
)

// events is a min-heap of timed actions, ordered by time then insertion.
type event struct {
	at  time.Time
	seq int
	fn  func()
}

type events struct {
	h   []event
	seq int
}

func (e *events) Len() int { return len(e.h) }
func (e *events) Less(i, j int) bool {
	if c := e.h[i].at.Compare(e.h[j].at); c != 0 {
		return c < 0
	}
	return e.h[i].seq < e.h[j].seq
}
func (e *events) Swap(i, j int) { e.h[i], e.h[j] = e.h[j], e.h[i] }
func (e *events) Push(x any)    { e.h = append(e.h, x.(event)) }
func (e *events) Pop() any {
	x := e.h[len(e.h)-1]
	e.h = e.h[:len(e.h)-1]
	return x
}

func (e *events) at(t time.Time, fn func()) {
	e.seq++
	heap.Push(e, event{at: t, seq: e.seq, fn: fn})
}

// run delivers events in order, moving the clock, until none is left or
// the horizon passes.
func (e *events) run(clk *clocktest.Clock, horizon time.Time) {
	for e.Len() > 0 {
		ev := heap.Pop(e).(event)
		if ev.at.After(horizon) {
			return
		}
		clk.Set(ev.at)
		ev.fn()
	}
}

// bjob is one job of a baseline.
type bjob struct {
	spec provider.Spec
	ref  provider.Ref
	rec  *jobRec
}

func baselineJobs(fl *fleet, strategy string, at time.Time) ([]*bjob, []jobRec) {
	recs := make([]jobRec, len(fl.instances))
	jobs := make([]*bjob, len(fl.instances))
	for i, in := range fl.instances {
		id := job.NewID(strategy, job.Slot(at), in.ID)
		recs[i].name = job.Name(id)
		jobs[i] = &bjob{spec: provider.Spec{Op: provider.Backup, Product: in.Product, Region: in.RegionOrDefault(),
			InstanceID: in.ID, Name: job.Name(id)}, rec: &recs[i]}
	}
	return jobs, recs
}

func (b *bjob) finish(now time.Time, result string, throttled bool) {
	b.rec.done, b.rec.noticed, b.rec.result, b.rec.throttledOut = true, now, result, throttled
}

// observe applies a status answer; it reports whether the job has ended.
func (b *bjob) observe(now time.Time, st provider.Status) bool {
	switch st.State {
	case provider.Succeeded:
		b.finish(now, "succeeded", false)
	case provider.Failed:
		b.finish(now, "failed", false)
	default:
		return false
	}
	return true
}

// runFixed is baseline (a): every create at t0 with no spreading, each
// call retried immediately (up to 3 tries) whatever the error, then every
// job polled every 30 s from its start. One invocation per tick.
func runFixed(ctx context.Context, o Options, fl *fleet) ([]Night, error) {
	clk := clocktest.New(epoch)
	var out []Night
	for night := range o.Nights {
		wallStart, cpuStart := time.Now(), cpuTime()
		at := epoch.Add(time.Duration(night) * 24 * time.Hour)
		clk.Set(at)
		w, err := newWorld(clk, fl.night(o.Seed, night), injector(o.Faults, o.Seed+uint64(night)*7919))
		if err != nil {
			return nil, err
		}
		jobs, recs := baselineJobs(fl, Fixed, at)
		// One invocation for the fan-out, one per tick; nothing waits.
		m := newMeter(o.InvocationOverhead, o.CallLatency)
		w.calls.meter = m
		var running []*bjob
		m.begin(at)
		for _, b := range jobs {
			pr, _ := w.provider(b.spec.Product)
			var err error
			for range fixedAttempts {
				if b.ref, err = pr.Start(ctx, b.spec); err == nil || apierr.KindOf(err) == apierr.Permanent {
					break
				}
			}
			if err != nil {
				b.finish(clk.Now(), "failed", isThrottle(err))
				continue
			}
			running = append(running, b)
		}
		m.end()
		for t := at.Add(fixedInterval); len(running) > 0; t = t.Add(fixedInterval) {
			clk.Set(t)
			m.begin(t)
			still := running[:0]
			for _, b := range running {
				pr, _ := w.provider(b.spec.Product)
				ended := false
				for range fixedAttempts {
					st, err := pr.Status(ctx, b.spec, b.ref)
					if err == nil {
						ended = b.observe(t, st)
						break
					}
				}
				if !ended && t.Sub(at) >= baselineHorizon {
					b.finish(t, "stuck", false)
					ended = true
				}
				if !ended {
					still = append(still, b)
				}
			}
			running = still
			m.end()
		}
		n := measure(Fixed, night, recs, w, fl, at, o, m, 0)
		n.Wall, n.CPU = time.Since(wallStart), cpuTime()-cpuStart
		out = append(out, n)
	}
	return out, nil
}

// runRescan is baseline (b), the way interval-based snapshot tools work:
// creates go out paced at the rate limit (as backupflow's do, so only the
// following differs), a failed create is tried again at the next scan, and
// every 10 minutes a scan reads the state of every unfinished job, paced at
// the product's status rate limit. One invocation per scan.
func runRescan(ctx context.Context, o Options, fl *fleet) ([]Night, error) {
	clk := clocktest.New(epoch)
	var out []Night
	for night := range o.Nights {
		wallStart, cpuStart := time.Now(), cpuTime()
		at := epoch.Add(time.Duration(night) * 24 * time.Hour)
		clk.Set(at)
		w, err := newWorld(clk, fl.night(o.Seed, night), injector(o.Faults, o.Seed+uint64(night)*7919))
		if err != nil {
			return nil, err
		}
		jobs, recs := baselineJobs(fl, Rescan, at)
		ev := &events{}
		attempts := map[*bjob]int{}
		var pending []*bjob // not yet created, to retry at the next scan
		var running []*bjob
		create := func(b *bjob) {
			pr, _ := w.provider(b.spec.Product)
			attempts[b]++
			ref, err := pr.Start(ctx, b.spec)
			switch {
			case err == nil:
				b.ref = ref
				running = append(running, b)
			case apierr.KindOf(err) == apierr.Permanent || attempts[b] >= rescanAttempts:
				b.finish(clk.Now(), "failed", isThrottle(err))
			default:
				pending = append(pending, b)
			}
		}
		// The paced fan-out is one invocation and each scan another; they
		// overlap in virtual time, so each event names its own. Each
		// waits for its event's time and is billed to its last call.
		m := newMeter(o.InvocationOverhead, o.CallLatency)
		w.calls.meter = m
		fanout := m.open(at)
		index := map[provider.Product]int{}
		for _, b := range jobs {
			rate := provider.LimitsOf(b.spec.Product, provider.Backup).CreatePerSecond
			d := time.Duration(math.Floor(float64(index[b.spec.Product])/rate)) * time.Second
			index[b.spec.Product]++
			ev.at(at.Add(d), func() { m.in(fanout, clk.Now(), func() { create(b) }) })
		}
		var scan func(t time.Time)
		busy := 0
		scan = func(t time.Time) {
			inv := m.open(t)
			sent := map[provider.Product]int{}
			cur := running
			running = nil
			if len(cur) > 0 || len(pending) > 0 {
				busy++
			}
			for _, b := range cur {
				rate := provider.LimitsOf(b.spec.Product, provider.Backup).StatusPerSecond
				d := time.Duration(math.Floor(float64(sent[b.spec.Product])/rate)) * time.Second
				sent[b.spec.Product]++
				ev.at(t.Add(d), func() {
					pr, _ := w.provider(b.spec.Product)
					var st provider.Status
					var err error
					m.in(inv, clk.Now(), func() { st, err = pr.Status(ctx, b.spec, b.ref) })
					if err == nil && b.observe(clk.Now(), st) {
						return
					}
					if clk.Now().Sub(at) >= baselineHorizon {
						b.finish(clk.Now(), "stuck", false)
						return
					}
					running = append(running, b)
				})
			}
			for _, b := range pending {
				ev.at(t, func() { m.in(inv, clk.Now(), func() { create(b) }) })
			}
			pending = nil
			if len(cur) > 0 || len(pending) > 0 || ev.Len() > 0 {
				ev.at(t.Add(rescanInterval), func() { scan(t.Add(rescanInterval)) })
			}
		}
		ev.at(at.Add(rescanInterval), func() { scan(at.Add(rescanInterval)) })
		ev.run(clk, at.Add(baselineHorizon+time.Hour))
		n := measure(Rescan, night, recs, w, fl, at, o, m, 0)
		// Its timer fires every 10 minutes all day; an empty scan reads
		// the jobs it keeps in memory, so by this model it makes no call.
		perDay := int(24 * time.Hour / rescanInterval)
		n.Timers = []TimerDay{{Timer: Rescan, Firings: perDay, WithWork: busy, Empty: perDay - busy,
			BilledPerEmpty: o.InvocationOverhead, GBsPerDay: gbs(o, time.Duration(perDay-busy)*o.InvocationOverhead)}}
		n.Wall, n.CPU = time.Since(wallStart), cpuTime()-cpuStart
		out = append(out, n)
	}
	return out, nil
}
