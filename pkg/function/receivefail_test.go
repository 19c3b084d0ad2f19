package function

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
)

// flakyReceiver fails every receive after the first okFirst.
type flakyReceiver struct {
	Receiver
	okFirst, calls int
}

func (r *flakyReceiver) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	r.calls++
	if r.calls > r.okFirst {
		return nil, errors.New("queue backupflow-work: receive: cmq BatchReceiveMessage: HTTP503: Service Unavailable")
	}
	return r.Receiver.Receive(ctx, max, wait)
}

// TestDrainFinishesHeldMessagesWhenAReceiveFails: a drain holds received
// creates while their paced slots come; a receive that failed meanwhile
// (a throttled or broken queue API) ended the drain and abandoned them,
// hidden for the work queue's visibility timeout — 16 minutes added to a
// night's window per failed receive (found by the real-time window
// benchmark with faults on the queues). The held ones are finished, then
// the error is reported.
func TestDrainFinishesHeldMessagesWhenAReceiveFails(t *testing.T) {
	for _, workers := range []int{virtualWorkers, DefaultWorkers} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) { drainPastAFailedReceive(t, workers) })
	}
}

func drainPastAFailedReceive(t *testing.T, workers int) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	cloud := &stubProvider{}
	svc, work, _, _ := newServiceWith(t, cloud)
	sendCreates(t, work, provider.MongoDB, 20) // paced at 20/s: the first 16 are held while their slots come
	o := quiet()
	o.Now, o.Sleep, o.Pace, o.Workers = clk.Now, clk.Sleep, true, workers
	q := &flakyReceiver{Receiver: work, okFirst: 1}
	_, err := CreateBackup(svc, q, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err == nil || !strings.Contains(err.Error(), "receive") {
		t.Errorf("workers=%d: err = %v; want the failed receive reported", workers, err)
	}
	cloud.mu.Lock()
	starts := cloud.starts
	cloud.mu.Unlock()
	if starts != 16 {
		t.Errorf("workers=%d: %d creates made; want the 16 held ones", workers, starts)
	}
}
