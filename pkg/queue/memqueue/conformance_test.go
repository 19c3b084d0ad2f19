package memqueue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/queuetest"
)

type harness struct {
	clock *clocktest.Clock
}

var queueSeq atomic.Int64

func (h *harness) MakeQueue(_ context.Context, t *testing.T) *queue.Queue {
	name := fmt.Sprintf("conformance-%d", queueSeq.Add(1))
	t.Cleanup(func() { Forget(name) })
	return Open(name, &Options{Now: h.clock.Now})
}

func (h *harness) Advance(_ *testing.T, d time.Duration) { h.clock.Advance(d) }
func (h *harness) VisibilityTimeout() time.Duration      { return DefaultVisibilityTimeout }

func TestConformance(t *testing.T) {
	queuetest.RunConformanceTests(t, &harness{clock: &clocktest.Clock{}})
}
