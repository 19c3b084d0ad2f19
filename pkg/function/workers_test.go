package function

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
)

// slowCloud answers every create after a real delay, as a cloud call
// over the network does, and records when each began.
type slowCloud struct {
	stubProvider
	delay   time.Duration
	mu      sync.Mutex
	began   []time.Time
	running int
	most    int // the most creates in flight at once
}

func (p *slowCloud) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	p.mu.Lock()
	p.began = append(p.began, time.Now())
	p.running++
	p.most = max(p.most, p.running)
	p.mu.Unlock()
	time.Sleep(p.delay)
	p.mu.Lock()
	p.running--
	p.mu.Unlock()
	return p.stubProvider.Start(ctx, spec)
}

func sendCreates(t *testing.T, work *queue.Queue, p provider.Product, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("cmgo-%08d", i)
		m := job.Message{JobID: id, Step: job.StepCreate,
			Spec: provider.Spec{Op: provider.Backup, Product: p, InstanceID: id, Name: job.Name(id)}}
		body, _ := m.Encode()
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDrainOverlapsSlowCalls: at 100 ms a create, a serial drain makes 10
// a second whatever the product allows; with workers it keeps MongoDB's
// 20 a second. Real time, because the point is calls that take it: 20
// creates are 0.95 s of slots; one at a time they take 2 s.
func TestDrainOverlapsSlowCalls(t *testing.T) {
	rate := provider.LimitsOf(provider.MongoDB, provider.Backup).CreatePerSecond
	const n = 20
	bound := time.Duration(float64(n-1) / rate * float64(time.Second))
	for _, tc := range []struct {
		workers int
		fast    bool // whether the drain keeps within 1.3 × the slots' span plus one call
	}{{1, false}, {DefaultWorkers, true}} {
		t.Run(fmt.Sprint("workers=", tc.workers), func(t *testing.T) {
			cloud := &slowCloud{delay: 100 * time.Millisecond}
			svc, work, _, _ := newServiceWith(t, cloud)
			sendCreates(t, work, provider.MongoDB, n)
			o := quiet()
			o.Pace, o.Workers = true, tc.workers
			start := time.Now()
			out, err := CreateBackup(svc, work, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			var rep Report
			if json.Unmarshal(out, &rep) != nil || rep.Drained != n || cloud.starts != n {
				t.Fatalf("drained %s, %d creates; want %d of each", out, cloud.starts, n)
			}
			limit := time.Duration(float64(bound)*1.3) + cloud.delay
			if fast := took <= limit; fast != tc.fast {
				t.Errorf("%d creates took %s (slots span %s, limit %s, %d in flight at most); want within the limit: %v",
					n, took, bound, limit, cloud.most, tc.fast)
			}
			// Whatever the workers, no create starts ahead of its slot.
			gap := time.Duration(float64(time.Second) / rate)
			for i := 1; i < len(cloud.began); i++ {
				if d := cloud.began[i].Sub(cloud.began[0]); d < time.Duration(i)*gap-5*time.Millisecond {
					t.Fatalf("create %d began %s after the first; its slot is %s after", i, d, time.Duration(i)*gap)
				}
			}
		})
	}
}

// TestDrainWorkersStartADuplicatedStepOnce: two deliveries of one create
// step (the queue's duplicate, and a second send of the same step) handled
// by concurrent workers start the cloud job once.
func TestDrainWorkersStartADuplicatedStepOnce(t *testing.T) {
	cloud := &slowCloud{delay: 50 * time.Millisecond}
	svc, work, _, _ := newServiceWith(t, cloud)
	m := job.Message{JobID: "jdup", Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: provider.MongoDB, InstanceID: "cmgo-dup00001", Name: job.Name("jdup")}}
	body, _ := m.Encode()
	for range 4 {
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
	o := quiet()
	o.Workers = DefaultWorkers // unpaced: all four are handed to workers at once
	if _, err := CreateBackup(svc, work, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`)); err != nil {
		t.Fatal(err)
	}
	if cloud.starts != 1 {
		t.Errorf("the step started %d cloud jobs; want 1", cloud.starts)
	}
}

// TestDrainWaitsForItsWorkers: the drain returns only after every handed
// message has been handled and deleted — none is left in flight for the
// platform to freeze with the process.
func TestDrainWaitsForItsWorkers(t *testing.T) {
	cloud := &slowCloud{delay: 200 * time.Millisecond}
	svc, work, _, _ := newServiceWith(t, cloud)
	sendCreates(t, work, provider.MongoDB, 6)
	o := quiet()
	o.Workers = DefaultWorkers
	out, err := CreateBackup(svc, work, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err != nil {
		t.Fatal(err)
	}
	cloud.mu.Lock()
	running := cloud.running
	cloud.mu.Unlock()
	var rep Report
	if json.Unmarshal(out, &rep) != nil || rep.Drained != 6 || running != 0 {
		t.Fatalf("returned %s with %d creates still running; want 6 drained, none running", out, running)
	}
	if left, err := work.Receive(context.Background(), 16, 0); err != nil || len(left) != 0 {
		t.Errorf("%d messages left in the queue (err %v); want none", len(left), err)
	}
}
