package simulate

import (
	"time"

	"github.com/backupflow/backupflow/pkg/function"
)

// The GB-s cost model bills each invocation its duration as the model sees
// it. The simulation runs on a virtual clock where a cloud call takes no
// time; the model says one takes CallLatency. So each invocation keeps its
// own clock from its start: a call moves it on by CallLatency, a wait for
// a booked slot at virtual time t moves it to max(clock, t), and the
// invocation is billed InvocationOverhead + (the clock at its end − its
// start). Billing the calls and the pacer's waits apart, as the first
// model did, counted the same seconds twice: a pacer that sleeps until a
// slot would sleep one call's time less after each call.
//
// When the clock is past a slot the invocation waits for, a drain that
// really took CallLatency a call could not have kept to its booked slots:
// the zero-latency simulation is then optimistic about the window by that
// much (late, the most over the night).
//
// A drain hands its held messages to a pool of workers, so the model gives
// an invocation lanes, one clock each: a handled message runs on the lane
// free first, from the later of that lane's clock and its slot (a wait
// starts a message; so does the first call after a message was deleted),
// and the invocation ends when its last lane does. The meter keeps the
// model at several lane counts at once (widths), so a night reports the
// serial drain beside the deployed one; one lane is the serial model
// exactly. The simulated drain itself runs one worker: the virtual clock
// stays deterministic, and a virtual call takes no time to overlap.

// DrainLanes is the deployed drain's worker count, the lanes the model
// gives it (BACKUPFLOW_DRAIN_WORKERS' default).
const DrainLanes = function.DefaultWorkers

// bill is one invocation's clocks under the model: per width, the lanes'
// clocks and the lane of the message running (-1: none since the last
// message ended).
type bill struct {
	start time.Time
	lanes [][]time.Time
	cur   []int
}

// lane starts a message on width i's lane free first, at slot at the
// earliest, and returns how late that lane reached the slot.
func (b *bill) lane(i int, at time.Time) time.Duration {
	ls := b.lanes[i]
	k := 0
	for j := range ls {
		if ls[j].Before(ls[k]) {
			k = j
		}
	}
	b.cur[i] = k
	if d := ls[k].Sub(at); d > 0 {
		return d
	}
	ls[k] = at
	return 0
}

// end is width i's last lane's clock.
func (b *bill) end(i int) time.Time {
	e := b.start
	for _, t := range b.lanes[i] {
		if t.After(e) {
			e = t
		}
	}
	return e
}

// meter bills a night's invocations. Calls go to the innermost invocation
// running (a poll-status drain runs inside a create drain's pacer wait) or
// to the one an event runs in (in). A nil meter bills nothing (the
// simulations that report no cost: plan's prediction).
type meter struct {
	overhead, latency time.Duration
	// now is the virtual clock, where a message a call starts was reached
	// (nil: at its lane's clock).
	now func() time.Time
	// widths are the lane counts modelled; the last is the one billed.
	widths []int
	bills  []*bill
	stack  []*bill
	// late[i] is the most an invocation's lane was past a slot it waited
	// for at widths[i]; lateWaits[i] counts such waits, waits all of them.
	late      []time.Duration
	lateWaits []int
	waits     int
}

// newMeter models invocations of one lane and, when widths are given,
// of each of those lane counts beside it (the last is billed).
func newMeter(overhead, latency time.Duration, widths ...int) *meter {
	widths = append([]int{1}, widths...)
	return &meter{overhead: overhead, latency: latency, widths: widths,
		late: make([]time.Duration, len(widths)), lateWaits: make([]int, len(widths))}
}

// open starts an invocation at start without making it the current one.
func (m *meter) open(start time.Time) *bill {
	b := &bill{start: start, lanes: make([][]time.Time, len(m.widths)), cur: make([]int, len(m.widths))}
	for i, w := range m.widths {
		b.lanes[i] = make([]time.Time, max(w, 1))
		for j := range b.lanes[i] {
			b.lanes[i][j] = start
		}
	}
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

// call bills one cloud call to the current invocation's running message;
// after a message ended (done), it starts the next at now() on the lane
// free first. A call made outside any invocation (a test's set-up) is not
// billed.
func (m *meter) call() {
	if m == nil || len(m.stack) == 0 {
		return
	}
	b := m.stack[len(m.stack)-1]
	for i := range m.widths {
		if b.cur[i] < 0 {
			var now time.Time
			if m.now != nil {
				now = m.now()
			}
			b.lane(i, now)
		}
		b.lanes[i][b.cur[i]] = b.lanes[i][b.cur[i]].Add(m.latency)
	}
}

// wait starts the current invocation's next message at its slot, virtual
// time t.
func (m *meter) wait(t time.Time) {
	if m == nil || len(m.stack) == 0 {
		return
	}
	b := m.stack[len(m.stack)-1]
	m.waits++
	for i := range m.widths {
		if d := b.lane(i, t); d > 0 {
			m.lateWaits[i]++
			m.late[i] = max(m.late[i], d)
		}
	}
}

// done ends the current invocation's running message (the drain deleted
// it): the next call starts another.
func (m *meter) done() {
	if m == nil || len(m.stack) == 0 {
		return
	}
	b := m.stack[len(m.stack)-1]
	for i := range b.cur {
		b.cur[i] = -1
	}
}

func (m *meter) invocations() int { return len(m.bills) }

// billed is the night's billed time at the last width: every invocation's
// duration.
func (m *meter) billed() time.Duration { return m.billedAt(len(m.widths) - 1) }

// billedAt is the night's billed time at widths[i].
func (m *meter) billedAt(i int) time.Duration {
	var sum time.Duration
	for _, b := range m.bills {
		sum += m.overhead + b.end(i).Sub(b.start)
	}
	return sum
}
