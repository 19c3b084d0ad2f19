package simulate

import (
	"testing"
	"time"
)

// TestMeterBillsEachInvocationItsDuration: an invocation is billed its
// duration under the model — 5 ms, plus the time from its start to where
// a clock that moves 100 ms per call and waits for each booked slot ends —
// so a call and the wait beside it are not billed twice.
func TestMeterBillsEachInvocationItsDuration(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	type step struct {
		call bool
		wait time.Duration // since t0: the pacer waits until then
	}
	calls := func(n int) []step { return make([]step, n) }
	// n calls, each followed by the pacer's wait for the next slot, gap
	// after the one before.
	paced := func(n int, gap time.Duration) []step {
		var s []step
		for i := range n {
			s = append(s, step{call: true}, step{wait: time.Duration(i+1) * gap})
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		billed time.Duration
		late   time.Duration // the most the clock was past a slot
	}{
		{name: "nothing", billed: 5 * time.Millisecond},
		{name: "10 calls back to back", steps: func() []step {
			s := calls(10)
			for i := range s {
				s[i].call = true
			}
			return s
		}(), billed: time.Second + 5*time.Millisecond},
		// The old model billed 10 × 100 ms of calls plus 10 × 0.2 s of
		// waits: 3 s for an invocation that ends 2 s after its start.
		{name: "10 calls with 0.2 s waits between", steps: paced(10, 200*time.Millisecond), billed: 2*time.Second + 5*time.Millisecond},
		// Slots closer than a call: the clock falls behind them, by 50 ms
		// more at each; the last slot (0.5 s) is reached at 1 s.
		{name: "10 calls with 50 ms slots", steps: paced(10, 50*time.Millisecond), billed: time.Second + 5*time.Millisecond,
			late: 500 * time.Millisecond},
		{name: "a wait before any call", steps: []step{{wait: 3 * time.Second}, {call: true}}, billed: 3100*time.Millisecond + 5*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMeter(5*time.Millisecond, 100*time.Millisecond)
			m.begin(t0)
			for _, s := range tc.steps {
				if s.call {
					m.call()
				} else {
					m.wait(t0.Add(s.wait))
				}
			}
			m.end()
			if got := m.billed(); got != tc.billed {
				t.Errorf("billed %s; want %s", got, tc.billed)
			}
			if m.late != tc.late {
				t.Errorf("late %s; want %s", m.late, tc.late)
			}
			if m.invocations() != 1 {
				t.Errorf("invocations %d; want 1", m.invocations())
			}
		})
	}
}

// TestMeterNestsAndInterleavesInvocations: a call is billed to the
// invocation that makes it — the innermost one running (poll-status drains
// run inside a create drain's pacer wait) or the one an event names
// (rescan's scans overlap its fan-out).
func TestMeterNestsAndInterleavesInvocations(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	m := newMeter(5*time.Millisecond, 100*time.Millisecond)
	outer := m.begin(t0)
	m.call()
	inner := m.begin(t0.Add(10 * time.Second))
	m.call()
	m.call()
	m.end()
	m.wait(t0.Add(20 * time.Second))
	m.call()
	m.end()
	if got, want := outer.r.Sub(outer.start), 20100*time.Millisecond; got != want {
		t.Errorf("outer ran %s; want %s", got, want)
	}
	if got, want := inner.r.Sub(inner.start), 200*time.Millisecond; got != want {
		t.Errorf("inner ran %s; want %s", got, want)
	}
	scan := m.open(t0.Add(time.Minute))
	m.in(scan, t0.Add(time.Minute+time.Second), func() { m.call() })
	m.in(outer, t0.Add(time.Minute), func() { m.call() })
	// outer: 60.1 s (its last call waits for t0+1m), inner 0.2 s, scan
	// 1.1 s (from its start at t0+1m), and 5 ms each.
	if got, want := m.billed(), 60100*time.Millisecond+200*time.Millisecond+1100*time.Millisecond+15*time.Millisecond; got != want {
		t.Errorf("billed %s; want %s", got, want)
	}
	if m.invocations() != 3 {
		t.Errorf("invocations %d; want 3", m.invocations())
	}
}
