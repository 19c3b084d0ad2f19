// Package clock is the wall-clock wait behind every waiting seam (a pacer's
// slot, a retried read's backoff); tests and simulations pass their own.
package clock

import (
	"context"
	"time"
)

// Sleep waits d in real time, or until ctx is done (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
