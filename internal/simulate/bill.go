package simulate

import "time"

// The GB-s cost model bills each invocation its duration as the model sees
// it. The simulation runs on a virtual clock where a cloud call takes no
// time; the model says one takes CallLatency. So each invocation keeps its
// own clock r from its start: a call moves r on by CallLatency, a wait for
// a booked slot at virtual time t moves it to max(r, t), and the invocation
// is billed InvocationOverhead + (r at its end − its start). Billing the
// calls and the pacer's waits apart, as the first model did, counted the
// same seconds twice: a pacer that sleeps until a slot would sleep one
// call's time less after each call.
//
// When r is past a slot the invocation waits for, a drain that really
// took CallLatency a call could not have kept to its booked slots: the
// zero-latency simulation is then optimistic about the window by that
// much (late, the most over the night).

// bill is one invocation's clock under the model.
type bill struct {
	start, r time.Time
}

// meter bills a night's invocations. Calls go to the innermost invocation
// running (a poll-status drain runs inside a create drain's pacer wait) or
// to the one an event runs in (in). A nil meter bills nothing (the
// simulations that report no cost: plan's prediction).
type meter struct {
	overhead, latency time.Duration
	bills             []*bill
	stack             []*bill
	// late is the most an invocation's clock was past a slot it waited
	// for; lateWaits counts such waits, waits all of them.
	late             time.Duration
	lateWaits, waits int
}

func newMeter(overhead, latency time.Duration) *meter {
	return &meter{overhead: overhead, latency: latency}
}

// open starts an invocation at start without making it the current one.
func (m *meter) open(start time.Time) *bill {
	b := &bill{start: start, r: start}
	m.bills = append(m.bills, b)
	return b
}

// begin starts an invocation at start; calls go to it until end.
func (m *meter) begin(start time.Time) *bill {
	if m == nil {
		return nil
	}
	b := m.open(start)
	m.stack = append(m.stack, b)
	return b
}

func (m *meter) end() {
	if m != nil {
		m.stack = m.stack[:len(m.stack)-1]
	}
}

// in runs fn as part of b, which has waited until at (an event's time).
func (m *meter) in(b *bill, at time.Time, fn func()) {
	m.stack = append(m.stack, b)
	defer m.end()
	m.wait(at)
	fn()
}

// call bills one cloud call to the current invocation. A call made outside
// any (a test's set-up) is not billed.
func (m *meter) call() {
	if m == nil || len(m.stack) == 0 {
		return
	}
	b := m.stack[len(m.stack)-1]
	b.r = b.r.Add(m.latency)
}

// wait moves the current invocation's clock to a slot at virtual time t.
func (m *meter) wait(t time.Time) {
	if m == nil || len(m.stack) == 0 {
		return
	}
	b := m.stack[len(m.stack)-1]
	m.waits++
	if d := b.r.Sub(t); d > 0 {
		m.lateWaits++
		m.late = max(m.late, d)
		return
	}
	b.r = t
}

func (m *meter) invocations() int { return len(m.bills) }

// billed is the night's billed time: every invocation's duration.
func (m *meter) billed() time.Duration {
	var sum time.Duration
	for _, b := range m.bills {
		sum += m.overhead + b.r.Sub(b.start)
	}
	return sum
}
