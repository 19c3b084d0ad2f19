package simulate

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/provider"
)

// small keeps the simulator's unit tests cheap: correctness invariants only,
// never timings (those live in `make bench`).
const small = 200

func run(t *testing.T, o Options) Report {
	t.Helper()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRun_FlowInvariants(t *testing.T) {
	for _, tc := range []struct {
		name              string
		faults, duplicate float64
	}{
		{"clean", 0, 0},
		{"faults and duplicates", 0.1, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, Options{Instances: small, Faults: tc.faults, Duplicates: tc.duplicate, Seed: 3, Strategies: []string{Flow}})
			if len(rep.Nights) != 2 {
				t.Fatalf("nights = %d; want 2", len(rep.Nights))
			}
			for _, n := range rep.Nights {
				if n.Jobs != small {
					t.Errorf("night %d: %d jobs; want %d", n.Night, n.Jobs, small)
				}
				if n.Lost != 0 || n.Duplicates != 0 || n.FailedByThrottling != 0 || n.FailedByFaults != 0 {
					t.Errorf("night %d: lost %d, duplicates %d, failed by throttling %d, by transient faults %d (%v); want 0",
						n.Night, n.Lost, n.Duplicates, n.FailedByThrottling, n.FailedByFaults, n.FailReasons)
				}
				if got := n.Succeeded + n.Failed + n.Lost; got != n.Jobs {
					t.Errorf("night %d: outcomes %d ≠ jobs %d", n.Night, got, n.Jobs)
				}
				if n.Makespan < n.LowerBound {
					t.Errorf("night %d: makespan %s below the rate-limit bound %s", n.Night, n.Makespan, n.LowerBound)
				}
				// A duration under the model never exceeds its calls and
				// waits billed apart.
				if n.GBsPerJob <= 0 || n.GBsPerJob > n.GBsPerJobCallsPlusWaits*(1+1e-9) {
					t.Errorf("night %d: %.5f GB-s/job; want positive and at most the calls and waits apart (%.5f)", n.Night, n.GBsPerJob, n.GBsPerJobCallsPlusWaits)
				}
				if tc.faults == 0 && n.Failed != 0 {
					t.Errorf("night %d: %d failures without faults", n.Night, n.Failed)
				}
			}
		})
	}
}

func TestRun_DeterministicForASeed(t *testing.T) {
	o := Options{Instances: 100, Faults: 0.1, Duplicates: 0.1, Seed: 9, Nights: 1}
	a, b := run(t, o), run(t, o)
	for i := range a.Nights {
		if a.Nights[i].CPU <= 0 {
			t.Errorf("night %d: CPU time %s; want it measured", a.Nights[i].Night, a.Nights[i].CPU)
		}
		a.Nights[i].Wall, b.Nights[i].Wall = 0, 0
		a.Nights[i].CPU, b.Nights[i].CPU = 0, 0
	}
	a.Wall, b.Wall = 0, 0
	a.CPU, b.CPU = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs with one seed differ:\n%+v\n%+v", a.Nights, b.Nights)
	}
}

func TestRun_BaselinesSeeTheSameJobs(t *testing.T) {
	rep := run(t, Options{Instances: 100, Seed: 5, Nights: 1})
	for _, s := range []string{Flow, Fixed, Rescan} {
		n, ok := rep.Find(s, 1)
		if !ok {
			t.Fatalf("no figures for %s", s)
		}
		if n.Jobs != 100 || n.Lost != 0 {
			t.Errorf("%s: jobs %d lost %d; want 100 and 0", s, n.Jobs, n.Lost)
		}
	}
	fixed, _ := rep.Find(Fixed, 1)
	if fixed.FailedByThrottling == 0 {
		t.Errorf("fixed-interval baseline with every create at t0: no job failed by throttling; the model lost its rate limits")
	}
}

func TestCounts_SumToN(t *testing.T) {
	for _, n := range []int{1, 7, 100, 10001} {
		c := counts(n, DefaultMix)
		sum := 0
		for _, v := range c {
			sum += v
		}
		if sum != n {
			t.Errorf("counts(%d) sum to %d", n, sum)
		}
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[provider.Product]float64
		wantErr bool
	}{
		{"mysql=1", map[provider.Product]float64{provider.MySQL: 1}, false},
		{"mysql=1,mongodb=3", map[provider.Product]float64{provider.MySQL: 0.25, provider.MongoDB: 0.75}, false},
		{"oracle=1", nil, true},
		{"mysql=-1", nil, true},
		{"mysql=0", nil, true},
		{"", nil, true},
	} {
		got, err := ParseMix(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseMix(%q) error = %v; want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMix(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestFleet_DurationsAndJitter(t *testing.T) {
	f := newFleet(500, DefaultMix, 1)
	n1, n2 := f.night(1, 0), f.night(1, 1)
	for i, in := range n1.Instances {
		if in.Duration < durMin*9/10 || in.Duration > durMax*11/10 {
			t.Fatalf("%s: duration %s outside the clamped spread", in.ID, in.Duration)
		}
		if err := provider.ValidateInstanceID(in.Product, in.ID); err != nil {
			t.Fatalf("generated id: %v", err)
		}
		r := float64(n2.Instances[i].Duration) / float64(f.base[i])
		if r < 0.89 || r > 1.11 {
			t.Fatalf("%s: night 2 is %.2f× the base; want within ±10%%", in.ID, r)
		}
	}
	if f.lowerBound() != time.Duration(40)*time.Second { // 200 mysql at 5/s
		t.Errorf("lower bound = %s; want 40s", f.lowerBound())
	}
}

func TestMeanP95(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	m, p := meanP95(xs)
	if m != 50.5 || p != 95 {
		t.Errorf("meanP95 = %v, %v; want 50.5, 95", m, p)
	}
	if m, p := meanP95(nil); m != 0 || p != 0 {
		t.Errorf("empty: %v %v", m, p)
	}
}

// TestTimeoutsAreTheDeployedOnes: the deadline the simulator gives each
// drain invocation is the function's timeout in serverless.yml.
func TestTimeoutsAreTheDeployedOnes(t *testing.T) {
	s, err := descriptor.LoadServerless("../../serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range Timeouts {
		want := s.Inputs.Functions[name].Timeout
		if want == 0 {
			want = s.Inputs.Timeout
		}
		if got != time.Duration(want)*time.Second {
			t.Errorf("%s: simulated timeout %s; serverless.yml says %d s", name, got, want)
		}
	}
}

// TestVisibilityIsTheDeployedOne: the simulated queues hide a received
// message as long as the deployed CMQ queues do.
func TestVisibilityIsTheDeployedOne(t *testing.T) {
	s, err := descriptor.LoadServerless("../../serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range Visibility {
		found := false
		for _, q := range s.Ext.Queues {
			if q.Name == "backupflow-"+name {
				found = true
				if got != time.Duration(q.VisibilityTimeout)*time.Second {
					t.Errorf("%s: simulated visibility %s; serverless.yml says %d s", name, got, q.VisibilityTimeout)
				}
			}
		}
		if !found {
			t.Errorf("serverless.yml has no queue backupflow-%s", name)
		}
	}
}

// TestOracle_IsTheFloor: the oracle, checking each job at its true end in
// a free slot of the status limit, ends every job once, detects within a
// slot of the end and never later than ours.
func TestOracle_IsTheFloor(t *testing.T) {
	rep := run(t, Options{Instances: small, Faults: 0.1, Duplicates: 0.1, Seed: 3, Nights: 1, Strategies: []string{Flow, Oracle}})
	ours, _ := rep.Find(Flow, 1)
	or, ok := rep.Find(Oracle, 1)
	if !ok {
		t.Fatal("no oracle figures")
	}
	if or.Succeeded != small || or.Lost != 0 || or.Duplicates != 0 {
		t.Errorf("oracle: succeeded %d, lost %d, duplicates %d (%v); want %d, 0, 0", or.Succeeded, or.Lost, or.Duplicates, or.FailReasons, small)
	}
	if or.LatencyP95 > 2*time.Second || or.LatencyP95 > ours.LatencyP95 {
		t.Errorf("oracle p95 detection %s (ours %s); want within 2 s and no later than ours", or.LatencyP95, ours.LatencyP95)
	}
	if or.StatusMean < 1 || or.StatusMean > ours.StatusMean {
		t.Errorf("oracle status calls/job %.2f (ours %.2f); want at least one and no more than ours", or.StatusMean, ours.StatusMean)
	}
}

// TestDrainTimersAreTheDeployedOnes: the simulator counts the firings of
// serverless.yml's drain timers — every timer trigger that drains, with
// its function, name and cron — and each drains its function's queue.
func TestDrainTimersAreTheDeployedOnes(t *testing.T) {
	s, err := descriptor.LoadServerless("../../serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	var deployed []DrainTimer
	for _, tr := range s.Inputs.Triggers {
		if tr.Type == "timer" && tr.Parameters.Argument == function.DrainMessage && tr.Parameters.Enabled() {
			f, _ := app.Lookup(tr.Function)
			deployed = append(deployed, DrainTimer{Trigger: tr.Parameters.Name, Function: tr.Function, Queue: f.Drains,
				Cron: tr.Parameters.CronExpression})
		}
	}
	if !reflect.DeepEqual(deployed, DrainTimers) {
		t.Errorf("serverless.yml's drain timers are %+v; the simulator counts %+v", deployed, DrainTimers)
	}
}

// TestEmptyFiringsAreMeasured: around each night the simulator reports,
// per drain timer, a day's firings from its cron, those that found work
// and what the empty ones cost, measured through the deployed handlers:
// an empty poll drain makes its receive only, an empty create drain its
// receive and, every SweepEvery, a sweep — fewer calls than before the
// sweep gate's memory, when each also read the gate.
func TestEmptyFiringsAreMeasured(t *testing.T) {
	rep := run(t, Options{Instances: small, Faults: 0.1, Duplicates: 0.1, Seed: 3, Strategies: []string{Flow, Rescan}})
	for _, n := range rep.Nights {
		if n.Strategy == Rescan {
			if len(n.Timers) != 1 || n.Timers[0].Firings != 144 || n.Timers[0].WithWork == 0 || n.Timers[0].Empty != 144-n.Timers[0].WithWork {
				t.Errorf("rescan night %d: timers %+v; want 144 scans a day, some with work", n.Night, n.Timers)
			}
			continue
		}
		if len(n.Timers) != len(DrainTimers) {
			t.Fatalf("night %d: %d timers reported; want %d", n.Night, len(n.Timers), len(DrainTimers))
		}
		for _, td := range n.Timers {
			if td.Firings != 1440 || td.WithWork == 0 || td.WithWork >= td.Firings || td.Empty != td.Firings-td.WithWork {
				t.Errorf("night %d %s: firings %d, with work %d, empty %d; want 1,440 a day, some with work, the rest empty",
					n.Night, td.Timer, td.Firings, td.WithWork, td.Empty)
			}
			// 5 ms + 100 ms a call, nothing to wait for.
			if want := 5*time.Millisecond + time.Duration(td.CallsPerEmpty*float64(100*time.Millisecond)); td.BilledPerEmpty-want > time.Microsecond || want-td.BilledPerEmpty > time.Microsecond {
				t.Errorf("night %d %s: billed %s per empty firing; %.2f calls make %s", n.Night, td.Timer, td.BilledPerEmpty, td.CallsPerEmpty, want)
			}
			switch td.Function {
			case app.PollStatus:
				if td.CallsPerEmpty != 1 {
					t.Errorf("night %d: an empty poll drain makes %.2f calls; want its receive", n.Night, td.CallsPerEmpty)
				}
			case app.CreateBackup:
				// A sweep every 10 of the 1,440 minutes; between them, the receive.
				if td.CallsPerEmpty <= 1 || td.CallsPerEmpty > 2 || td.CallsPerEmptyBefore-td.CallsPerEmpty < 0.85 {
					t.Errorf("night %d: an empty create drain makes %.2f calls (before the memory %.2f); want its receive and a sweep each 10 minutes, about one call fewer than before",
						n.Night, td.CallsPerEmpty, td.CallsPerEmptyBefore)
				}
			}
		}
	}
}

// TestRun_HuaweiInProcessIsTheSocket: a Huawei-only fleet with faults
// (dropped connections among them) gives the same figures with its calls
// in process as over a real loopback socket through net/http's Transport,
// which the simulator used before (and whose retry of a dropped GET on a
// reused connection the in-process transport must reproduce).
func TestRun_HuaweiInProcessIsTheSocket(t *testing.T) {
	mix, err := ParseMix("huawei-rds=1")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Instances: 150, Mix: mix, Faults: 0.2, Duplicates: 0.1, Seed: 4, Nights: 1, Strategies: []string{Flow}}
	in := run(t, o)
	orig := huaweiTransport
	t.Cleanup(func() { huaweiTransport = orig })
	huaweiTransport = func(h http.Handler) http.RoundTripper {
		srv := httptest.NewServer(h)
		addr := srv.Listener.Addr().String()
		tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
		t.Cleanup(func() { tr.CloseIdleConnections(); srv.Close() })
		return tr
	}
	socket := run(t, o)
	for _, r := range []*Report{&in, &socket} {
		r.Wall, r.CPU = 0, 0
		for i := range r.Nights {
			r.Nights[i].Wall, r.Nights[i].CPU = 0, 0
		}
	}
	if !reflect.DeepEqual(in, socket) {
		t.Errorf("in process:\n%+v\nover a socket:\n%+v", in.Nights, socket.Nights)
	}
}
