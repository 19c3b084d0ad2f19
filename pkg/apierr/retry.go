package apierr

import (
	"context"
	"time"

	"github.com/backupflow/backupflow/pkg/clock"
)

// ReadAttempts bounds RetryRead: with independent transient faults at a
// share f of calls, a read still fails with f^ReadAttempts (10⁻⁶ at 10 %),
// so a discovery of thousands of reads completes where one fault used to
// end it.
const ReadAttempts = 6

// The wait before RetryRead's second attempt doubles per attempt up to
// readBackoffMax: at most 3.1 s in all, inside any invocation's timeout.
const (
	readBackoff    = 100 * time.Millisecond
	readBackoffMax = 1600 * time.Millisecond
)

// RetryRead runs read, an API call that only reads, until it succeeds, fails
// permanently, its context ends or ReadAttempts are spent. Both transient
// kinds are tried again: retry-later certainly did not run, and a
// retry-after-lookup read that may have run changed nothing, so the lookup
// is the retry itself. sleep waits between attempts (a test's clock); nil
// is a timer. The last error is returned as is.
func RetryRead(ctx context.Context, sleep func(context.Context, time.Duration) error, read func() error) error {
	if sleep == nil {
		sleep = clock.Sleep
	}
	wait := readBackoff
	for attempt := 1; ; attempt++ {
		err := read()
		if err == nil || attempt == ReadAttempts || ctx.Err() != nil || KindOf(err) == Permanent {
			return err
		}
		if serr := sleep(ctx, wait); serr != nil {
			return err
		}
		wait = min(2*wait, readBackoffMax)
	}
}
