package tencent

import (
	"context"
	"sync"
	"time"
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

// PaceShare is the part of each limit the pacer uses. The limits are
// counted per clock second; a call that reaches the server after its slot (a loaded host,
// the request's own latency) lands one call in the next second on top of
// that second's full quota, and at exactly the rate that is one too many
// (found by TestNightlyFanOutKeepsToTheSendLimit: 21 discovery calls in one
// second). A tenth of headroom absorbs such a straggler.
const PaceShare = 0.9

// pacer hands out each action's next free slot, one every 1/rate seconds,
// and waits for it. One process is paced; instances running at once share
// the limit, which the flows' retries absorb.
type pacer struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	mu    sync.Mutex
	next  map[string]time.Time
}

func newPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	if now == nil || sleep == nil {
		now, sleep = time.Now, realSleep
	}
	return &pacer{now: now, sleep: sleep, next: map[string]time.Time{}}
}

func (p *pacer) wait(ctx context.Context, key string) error {
	rate, ok := Rates[key]
	if !ok {
		rate = DefaultRate
	}
	gap := time.Duration(float64(time.Second) / (rate * PaceShare))
	p.mu.Lock()
	now := p.now()
	at := p.next[key]
	if at.Before(now) {
		at = now
	}
	p.next[key] = at.Add(gap)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return nil
}

func realSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
