// Package clocktest is the one virtual clock of backupflow's tests and
// simulations: it moves only when told, so a test of retry delays, poll
// plans or signature skews takes no real time and never flakes on a busy
// machine. Every part that reads the time takes a func() time.Time; pass
// Clock.Now.
package clocktest

import (
	"context"
	"sync"
	"time"
)

// Epoch is what the zero Clock reads: 2026-01-01T00:00:00Z.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a virtual clock, safe for concurrent use. The zero value reads
// Epoch.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Epoch
	}
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Epoch
	}
	c.now = c.now.Add(d)
}

// Set moves the clock to t, and never back: an event loop that jumps to the
// next due time may find another goroutine already past it.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// Sleep serves a waiting seam (function.Options.Sleep, app.Options.Sleep):
// it moves the clock forward by d at once instead of waiting, so a paced
// drain on this clock costs no wall time. A done ctx wins, as with a timer.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
	}
	return nil
}
