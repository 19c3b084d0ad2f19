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
		done bool          // the drain deleted the message: the next call starts another
		wait time.Duration // since t0: the pacer waits until then
	}
	calls := func(n int) []step {
		s := make([]step, n)
		for i := range s {
			s[i].call = true
		}
		return s
	}
	// n messages of one call each, deleted after it, no slots.
	messages := func(n int) []step {
		var s []step
		for range n {
			s = append(s, step{call: true}, step{done: true})
		}
		return s
	}
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
		lanes  int // 0: the one-lane model alone
		steps  []step
		billed time.Duration
		late   time.Duration // the most a lane was past a slot
		lateN  int           // slots reached late
	}{
		{name: "nothing", billed: 5 * time.Millisecond},
		{name: "10 calls back to back", steps: calls(10), billed: time.Second + 5*time.Millisecond},
		// The old model billed 10 × 100 ms of calls plus 10 × 0.2 s of
		// waits: 3 s for an invocation that ends 2 s after its start.
		{name: "10 calls with 0.2 s waits between", steps: paced(10, 200*time.Millisecond), billed: 2*time.Second + 5*time.Millisecond},
		// Slots closer than a call: the clock falls behind them, by 50 ms
		// more at each; the last slot (0.5 s) is reached at 1 s.
		{name: "10 calls with 50 ms slots", steps: paced(10, 50*time.Millisecond), billed: time.Second + 5*time.Millisecond,
			late: 500 * time.Millisecond, lateN: 10},
		{name: "a wait before any call", steps: []step{{wait: 3 * time.Second}, {call: true}}, billed: 3100*time.Millisecond + 5*time.Millisecond},
		// One lane is the serial model, deletes or not.
		{name: "10 messages, 1 lane", lanes: 1, steps: messages(10), billed: time.Second + 5*time.Millisecond},
		{name: "10 calls with 50 ms slots, 1 lane", lanes: 1, steps: paced(10, 50*time.Millisecond), billed: time.Second + 5*time.Millisecond,
			late: 500 * time.Millisecond, lateN: 10},
		// Two lanes: a call's 100 ms fits two 50 ms slots, so no slot is
		// late; the last call (slot 0.45 s, the wait for 0.5 s has no
		// call after it) ends at 0.55 s.
		{name: "10 calls with 50 ms slots, 2 lanes", lanes: 2, steps: paced(10, 50*time.Millisecond), billed: 550*time.Millisecond + 5*time.Millisecond},
		// Three 100 ms lanes behind 25 ms slots: each round of three
		// falls 25 ms further behind. The 10th call (slot 225 ms) starts
		// at 300 ms and ends at 400 ms; the last wait (250 ms) finds its
		// lane free at 325 ms. 8 of the 10 waits are late.
		{name: "10 calls with 25 ms slots, 3 lanes", lanes: 3, steps: paced(10, 25*time.Millisecond), billed: 400*time.Millisecond + 5*time.Millisecond,
			late: 75 * time.Millisecond, lateN: 8},
		{name: "10 messages, 4 lanes", lanes: 4, steps: messages(10), billed: 300*time.Millisecond + 5*time.Millisecond},
		// Without a delete or a wait between them, calls are one message:
		// lanes do not split it.
		{name: "10 calls back to back, 4 lanes", lanes: 4, steps: calls(10), billed: time.Second + 5*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m *meter
			if tc.lanes == 0 {
				m = newMeter(5*time.Millisecond, 100*time.Millisecond)
			} else {
				m = newMeter(5*time.Millisecond, 100*time.Millisecond, tc.lanes)
			}
			m.begin(t0)
			for _, s := range tc.steps {
				switch {
				case s.call:
					m.call()
				case s.done:
					m.done()
				default:
					m.wait(t0.Add(s.wait))
				}
			}
			m.end()
			last := len(m.widths) - 1
			if got := m.billed(); got != tc.billed {
				t.Errorf("billed %s; want %s", got, tc.billed)
			}
			if m.late[last] != tc.late || m.lateWaits[last] != tc.lateN {
				t.Errorf("%d late, latest %s; want %d, %s", m.lateWaits[last], m.late[last], tc.lateN, tc.late)
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
	if got, want := outer.end(0).Sub(outer.start), 20100*time.Millisecond; got != want {
		t.Errorf("outer ran %s; want %s", got, want)
	}
	if got, want := inner.end(0).Sub(inner.start), 200*time.Millisecond; got != want {
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
