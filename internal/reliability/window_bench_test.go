package reliability

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
)

// cloudLatency is what each database API call costs in this benchmark:
// the order of a cross-zone API round trip and its server-side work, and
// the figure the simulator's lane model charges (docs/benchmarks.md).
const cloudLatency = 100 * time.Millisecond

// slowFront puts cloudLatency in front of every database API call (queue
// and COS exchanges stay at loopback speed, as they are in-region) and
// counts the calls the emulator refused for their rate limit.
type slowFront struct {
	emu       http.Handler
	throttled atomic.Int64
}

func (f *slowFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a := r.Header.Get("X-TC-Action"); a != "" && a != "SendCmqMsg" {
		time.Sleep(cloudLatency)
	}
	f.emu.ServeHTTP(&throttleSpy{ResponseWriter: w, f: f}, r)
}

type throttleSpy struct {
	http.ResponseWriter
	f    *slowFront
	seen bool
}

func (s *throttleSpy) Write(p []byte) (int, error) {
	if !s.seen && (bytes.Contains(p, []byte("RequestLimitExceeded")) || bytes.Contains(p, []byte("TooManyRequests"))) {
		s.seen = true
		s.f.throttled.Add(1)
	}
	return s.ResponseWriter.Write(p)
}

// BenchmarkNightlyWindowRealTime measures the fan-out window on a real
// clock through what ships: the SCF create-backup binary, configured from
// the environment, run over SCF's Go1 protocol, against the emulator over
// HTTP with its rate limits on and cloudLatency on every database call.
// The nightly timer queues one create per tagged instance; drain timers
// then start them. The figure is the span from the first accepted create
// to the last over the span the rate limits allow at best (per product
// (count-1) ÷ rate, the slowest product bounding the whole); the wait for
// the first drain timer is the simulator's to model, not this one's. The
// simulator drains on virtual time and models the drain's workers as
// lanes; this is the same drain running its workers for real.
//
//	go test -run '^$' -bench NightlyWindowRealTime -benchtime 1x ./internal/reliability/
func BenchmarkNightlyWindowRealTime(b *testing.B) {
	bins, err := buildBinaries()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		workers string
		faults  float64
	}{{"8", 0}, {"8", 0.1}, {"1", 0}} {
		b.Run(fmt.Sprintf("workers=%s/faults=%.0f%%", c.workers, 100*c.faults), func(b *testing.B) {
			for range b.N {
				windowNight(b, bins.prodCreate, c.workers, c.faults)
			}
		})
	}
}

// windowNight runs one night and reports its window over the bound; with
// faults the bound is the fault-adjusted one (a refused call still counts
// against the limit, so only 1-faults of the rate does work).
func windowNight(b *testing.B, bin, workers string, faults float64) {
	const n = 300
	set := tencentFleet(n, n)
	// Faults on the database APIs, as the simulator's (its queue is in
	// memory). On the queues too, an ambiguous receive hides its messages
	// for the work queue's visibility timeout (16 min), which no window
	// survives and this benchmark cannot wait out.
	front := &slowFront{}
	r := newProdRig(b, bin, emulator.Options{Fleet: set, FaultRate: faults, Seed: 1, QuietQueues: true},
		func(emu http.Handler) http.Handler { front.emu = emu; return front }, "ledger-window")
	emu, env, pr, logs := r.emu, r.env, r.pr, r.logs
	env["BACKUPFLOW_DRAIN_WORKERS"] = workers

	nightly := nightlyTimer()
	// The platform retries a failed timer invocation (a fault can break
	// discovery); the run's slot makes a retry send nothing twice.
	for try := 1; ; try++ {
		reply, err := pr.invoke(nightly, env)
		if err != nil {
			b.Fatalf("nightly fan-out: %v\n%s", err, tail(logs))
		}
		if reply.Error == nil {
			break
		}
		if faults == 0 || try == 20 {
			b.Fatalf("nightly fan-out, try %d: %+v\n%s", try, reply.Error, tail(logs))
		}
	}
	b.ResetTimer()
	// Until every instance's backup is made: with faults, a message whose
	// delete failed stays in flight for the queue's visibility timeout
	// (16 min) and is then dropped as a duplicate; the window is over
	// before that.
	made := func() int { return backupsMade(emu) }
	drains, drainErrs := 0, 0
	for round := 0; ; round++ {
		v, i, d := emu.CMQ.Stats("backupflow-work")
		if v+i+d == 0 || made() >= n {
			break
		}
		if round == 200 {
			b.Fatalf("work queue not drained after %d drain invocations (%d visible, %d in flight, %d delayed)\n%s", round, v, i, d, tail(logs))
		}
		if v == 0 && round > 0 {
			time.Sleep(200 * time.Millisecond) // a retry is not due yet
		}
		drains++
		if reply, err := pr.invoke(drainTimer, env); err != nil {
			b.Fatalf("drain: %v\n%s", err, tail(logs))
		} else if reply.Error != nil {
			drainErrs++
			if faults == 0 {
				b.Fatalf("drain: %+v\n%s", reply.Error, tail(logs))
			}
		}
	}
	b.StopTimer()

	// Per product for the reader: a fast product's creates wait behind the
	// slow one's in the held batch, which costs the window nothing (the
	// slowest product bounds it).
	label := fmt.Sprintf("workers=%s faults=%.0f%%", workers, 100*faults)
	total, first := reportWindow(b, emu, label, faults, front.throttled.Load())
	if total != n {
		b.Fatalf("%d backups created; want one per tagged instance, %d", total, n)
	}
	// Where the time went: creates per 5 s from the first.
	var buckets []int
	for _, j := range emu.Jobs() {
		if j.Auto {
			continue
		}
		k := int(j.Created.Sub(first) / (5 * time.Second))
		for len(buckets) <= k {
			buckets = append(buckets, 0)
		}
		buckets[k]++
	}
	b.Logf("%s creates per 5 s: %v; drain invocations %d (%d ended in an error)", label, buckets, drains, drainErrs)
}

// backupsMade counts the backups the emulator made on request (not its
// automatic ones).
func backupsMade(emu *emulator.Emulator) int {
	c := 0
	for _, j := range emu.Jobs() {
		if !j.Auto {
			c++
		}
	}
	return c
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
