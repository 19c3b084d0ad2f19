package flow

import (
	"math"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// statusShare is the part of a product's status-call limit the poll
// schedule books. The rest is left for the lookups retried creates make
// (MySQL's Find reads DescribeBackups, its status action) and for
// another process's checks.
const statusShare = 0.9

// statusBook spreads the status checks of each product over clock seconds
// so that no second holds more than its share of the status limit. A
// check is booked when its poll step is sent: it goes in the first second
// at or after its due time that has room, and is sent with that delay.
// Unbooked, a fleet's checks came due in bursts (every job of a wave
// polled at the same share of its elapsed time) and most of night 1's
// status reads at 10,000 instances were throttled (27,089, then retried
// with backoff, each retry adding latency); booked, a check waits for a
// free second instead of failing. One process books; checks another
// process sends are absorbed by the share left over and by retries.
type statusBook struct {
	mu     sync.Mutex
	counts map[provider.Product]map[int64]int
	oldest int64 // seconds before this are forgotten
}

// book returns the delay, whole seconds as the queues keep them, at which
// a check of product p due after delay gets a second with room.
func (b *statusBook) book(p provider.Product, op provider.Op, now time.Time, delay time.Duration) time.Duration {
	l := provider.LimitsOf(p, op).StatusPerSecond
	if l <= 0 {
		return delay
	}
	quota := max(int(math.Floor(l*statusShare)), 1)
	delay = max(delay, 0).Round(time.Second)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.counts == nil {
		b.counts = map[provider.Product]map[int64]int{}
	}
	b.forget(now.Unix())
	c := b.counts[p]
	if c == nil {
		c = map[int64]int{}
		b.counts[p] = c
	}
	for {
		sec := now.Add(delay).Unix()
		if c[sec] < quota {
			c[sec]++
			return delay
		}
		delay += time.Second
	}
}

// forget drops the seconds already past, once a minute.
func (b *statusBook) forget(now int64) {
	if now-b.oldest < 60 {
		return
	}
	for _, c := range b.counts {
		for sec := range c {
			if sec < now {
				delete(c, sec)
			}
		}
	}
	b.oldest = now
}
