package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
)

// URLHarness points the suite at any endpoint, not only an in-process
// broker: each queue is opened by URL through queue.Open (the driver for
// the scheme must be imported), on the real clock. The interop suite runs
// it against `backupflow emulator` over real HTTP.
type URLHarness struct {
	// NewQueue makes a fresh, empty queue on the endpoint and returns its
	// URL (sqs://name?region=…&endpoint=…).
	NewQueue func(ctx context.Context, t *testing.T) string
	// Env is passed to queue.Open: the environment the driver reads its
	// settings (credentials, endpoints) from, as a deployed function's.
	Env openurl.Env
	// Visibility is the endpoint's visibility timeout for received messages.
	Visibility time.Duration
}

// MakeQueue opens a fresh queue by URL.
func (h *URLHarness) MakeQueue(ctx context.Context, t *testing.T) *queue.Queue {
	t.Helper()
	u := h.NewQueue(ctx, t)
	q, err := queue.Open(ctx, u, h.Env)
	if err != nil {
		t.Fatalf("queuetest: open %s: %v", u, err)
	}
	return q
}

// Advance sleeps: a remote endpoint's clock cannot be moved.
func (h *URLHarness) Advance(_ *testing.T, d time.Duration) { time.Sleep(d) }

// VisibilityTimeout is h.Visibility.
func (h *URLHarness) VisibilityTimeout() time.Duration { return h.Visibility }
