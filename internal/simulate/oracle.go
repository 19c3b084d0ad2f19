package simulate

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Oracle is the detection floor: it knows each job's true end and checks
// exactly then, under the same rate limits as everybody.
const Oracle = "oracle"

// oracleAttempts bounds one job's failed calls (faults), creates and
// checks alike, far above what a 10 % fault rate needs.
const oracleAttempts = 20

// slots hands out calls of one product and action at its published rate:
// slot k is at base + k/rate, so no second holds more than the limit.
type slots struct {
	base  time.Time
	gap   time.Duration
	taken map[int64]bool
}

func newSlots(base time.Time, perSecond float64) *slots {
	return &slots{base: base, gap: time.Duration(float64(time.Second) / perSecond), taken: map[int64]bool{}}
}

// at books the first free slot at or after t.
func (s *slots) at(t time.Time) time.Time {
	k := max(int64(math.Ceil(float64(t.Sub(s.base))/float64(s.gap))), 0)
	for s.taken[k] {
		k++
	}
	s.taken[k] = true
	return s.base.Add(time.Duration(k) * s.gap)
}

// runOracle is the oracle strategy: creates at the rate limit, as early as
// the limit allows; then one status check per job at the instant the
// emulator will end it (created + the instance's duration that night), in
// the first free status slot. A check that fails or still sees the job
// running is repeated in the next free slot.
func runOracle(ctx context.Context, o Options, fl *fleet) ([]Night, error) {
	clk := clocktest.New(epoch)
	var out []Night
	for night := range o.Nights {
		wallStart, cpuStart := time.Now(), cpuTime()
		at := epoch.Add(time.Duration(night) * 24 * time.Hour)
		clk.Set(at)
		set := fl.night(o.Seed, night)
		w, err := newWorld(clk, set, injector(o.Faults, o.Seed+uint64(night)*7919))
		if err != nil {
			return nil, err
		}
		jobs, recs := baselineJobs(fl, Oracle, at)
		// One invocation, billed its calls: the oracle is a bound on
		// detection, not on cost, and waits for nothing billed.
		m := newMeter(o.InvocationOverhead, o.CallLatency)
		w.calls.meter = m
		m.begin(at)
		// As ours does, the oracle reads the creates' default methods in
		// batches first, so no create pays a lookup inside its slot.
		oracleMethods(ctx, w, jobs)
		creates, checks := map[provider.Product]*slots{}, map[provider.Product]*slots{}
		for _, p := range provider.Products {
			l := provider.LimitsOf(p, provider.Backup)
			creates[p], checks[p] = newSlots(at, l.CreatePerSecond), newSlots(at, l.StatusPerSecond)
		}
		ev := &events{}
		var check func(b *bjob, end time.Time, tries int)
		check = func(b *bjob, end time.Time, tries int) {
			pr, _ := w.provider(b.spec.Product)
			st, err := pr.Status(ctx, b.spec, b.ref)
			if err == nil && b.observe(clk.Now(), st) {
				return
			}
			if tries >= oracleAttempts || clk.Now().Sub(at) >= baselineHorizon {
				b.finish(clk.Now(), "stuck", false)
				return
			}
			next := clk.Now()
			if err == nil {
				next = next.Add(time.Second) // the end was not yet visible
			}
			ev.at(checks[b.spec.Product].at(next), func() { check(b, end, tries+1) })
		}
		// A retried create first looks for the backup (as ours does): a
		// create the cloud accepted but whose answer was lost must not run
		// twice. Every injected fault is transient, so any error is retried.
		var create func(i int, tries int)
		create = func(i int, tries int) {
			b := jobs[i]
			pr, _ := w.provider(b.spec.Product)
			var ref provider.Ref
			var err error
			found := false
			if tries > 1 {
				ref, found, err = pr.Find(ctx, b.spec)
			}
			if err == nil && !found {
				ref, err = pr.Start(ctx, b.spec)
			}
			switch {
			case err == nil:
				b.ref = ref
				end := clk.Now().Add(set.Instances[i].Duration)
				ev.at(checks[b.spec.Product].at(end), func() { check(b, end, 1) })
			case tries >= oracleAttempts:
				b.finish(clk.Now(), "failed", isThrottle(err))
				b.rec.code = apierr.Code(err)
			default:
				ev.at(creates[b.spec.Product].at(clk.Now()), func() { create(i, tries+1) })
			}
		}
		for i, b := range jobs {
			ev.at(creates[b.spec.Product].at(at), func() { create(i, 1) })
		}
		ev.run(clk, at.Add(baselineHorizon+time.Hour))
		// One invocation per distinct call instant would flatter nobody;
		// the oracle is a bound on detection, not on cost.
		m.end()
		n := measure(Oracle, night, recs, w, fl, at, o, m, 0)
		n.Wall, n.CPU = time.Since(wallStart), cpuTime()-cpuStart
		out = append(out, n)
	}
	return out, nil
}

// oracleMethods gives each job its instance's default method, read in
// batches through the adapter's provider.MethodResolver (ours does the
// same in the nightly fan-out); a failed batch is tried again.
func oracleMethods(ctx context.Context, w *world, jobs []*bjob) {
	byProduct := map[provider.Product][]*bjob{}
	for _, b := range jobs {
		byProduct[b.spec.Product] = append(byProduct[b.spec.Product], b)
	}
	for _, p := range provider.Products {
		pr, err := w.provider(p)
		if err != nil {
			continue
		}
		mr, ok := pr.(provider.MethodResolver)
		if !ok {
			continue
		}
		for batch := range slices.Chunk(byProduct[p], provider.MethodBatch) {
			ids := make([]string, len(batch))
			for i, b := range batch {
				ids[i] = b.spec.InstanceID
			}
			for range oracleAttempts {
				m, err := mr.DefaultMethods(ctx, batch[0].spec.Region, ids)
				if err != nil {
					continue
				}
				for _, b := range batch {
					b.spec.Method = m[b.spec.InstanceID]
				}
				break
			}
		}
	}
}
