package tencent

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/clock"
)

// Rates are the documented per-second limits of the API 3.0 actions
// backupflow calls, keyed "service.Action" (facts/database-apis.md,
// facts/platform.md §9.9); any other action has API 3.0's usual 20.
// Inside a region a call takes a few milliseconds, so a loop of them (a
// fan-out, a discovery over thousands of instances) would pass these
// limits many times over and be throttled; the client spaces each action's
// calls at its rate instead. Callers that pace themselves (the drain paces
// creates, the poll schedule paces status reads) never wait here.
var Rates = map[string]float64{
	"cdb.CreateBackup":          5,
	"cdb.DescribeBackups":       10,
	"cdb.DescribeDBInstances":   100,
	"sqlserver.CreateBackup":    20,
	"sqlserver.DescribeBackups": 60,
	"tdmq.SendCmqMsg":           100,
}

// DefaultRate is the limit of an action Rates does not list.
const DefaultRate = 20

// PaceShare is the part of each clock second the pacer's slots fill. The
// limits are counted per clock second, and a call that reaches the server
// after its slot (a loaded host, the request's own latency) would land in
// the next second on top of that second's full quota (found by
// TestNightlyFanOutKeepsToTheSendLimit: 21 discovery calls in one second).
// So each second's whole quota is packed into its first PaceShare, and a
// call may land up to a tenth of a second late and still count in its
// own second. Spacing calls evenly at PaceShare of the rate gave the same
// headroom but used only 90 % of the limit: the nightly fan-out took
// 1.11 × the rate-limit bound without a single fault.
const PaceShare = 0.9

// pacer hands out each action's next free slot on its grid (quota calls
// per clock second, packed into the first PaceShare of it) and waits for
// it. One process is paced; instances running at once share the limit,
// which the flows' retries absorb.
type pacer struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	mu    sync.Mutex
	next  map[string]int64 // the action's next free slot index on its grid
}

func newPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	if now == nil || sleep == nil {
		now, sleep = time.Now, clock.Sleep
	}
	return &pacer{now: now, sleep: sleep, next: map[string]int64{}}
}

func (p *pacer) wait(ctx context.Context, key string) error {
	rate, ok := Rates[key]
	if !ok {
		rate = DefaultRate
	}
	g := newGrid(rate)
	p.mu.Lock()
	now := p.now()
	// Idle time is not banked: a slot in the past is never handed out.
	i := max(g.index(now), p.next[key])
	p.next[key] = i + 1
	p.mu.Unlock()
	if d := g.at(i).Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return nil
}

// grid is the slots of one per-second limit: slot i is call i%quota of
// clock second i/quota, at gap × (i%quota) into that second.
type grid struct {
	quota int64
	gap   time.Duration
}

func newGrid(perSecond float64) grid {
	q := max(int64(math.Floor(perSecond)), 1)
	return grid{quota: q, gap: time.Duration(PaceShare * float64(time.Second) / float64(q))}
}

// index is the first slot at or after t.
func (g grid) index(t time.Time) int64 {
	sec := t.Unix()
	into := t.Sub(time.Unix(sec, 0))
	k := int64((into + g.gap - 1) / g.gap)
	if k >= g.quota {
		return (sec + 1) * g.quota
	}
	return sec*g.quota + k
}

// at is slot i's time.
func (g grid) at(i int64) time.Time {
	sec := i / g.quota
	if i%g.quota < 0 {
		sec--
	}
	return time.Unix(sec, 0).Add(time.Duration(i-sec*g.quota) * g.gap)
}
