package flow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// flakyNotifier fails its first fails sends, then records.
type flakyNotifier struct {
	recorder
	fails int
}

func (f *flakyNotifier) Notify(ctx context.Context, n Notice) error {
	f.mu.Lock()
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return errors.New("webhook: 502 bad gateway")
	}
	f.mu.Unlock()
	return f.recorder.Notify(ctx, n)
}

// TestFinish_FailedNotificationIsRetried: a send that fails leaves the
// message for redelivery, and the redelivery sends it — once.
func TestFinish_FailedNotificationIsRetried(t *testing.T) {
	for _, fails := range []int{1, 3} {
		h := newHarness(t, Config{})
		fn := &flakyNotifier{fails: fails}
		h.svc.d.Notifier = fn
		id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"cli", "notify"}, Op: provider.Backup,
			Instance: "cdb-c1nl9rpv", Origin: job.Origin{Source: "cli"}})
		if err != nil {
			t.Fatal(err)
		}
		h.run()
		if got := len(fn.outcomes()[id]); got != 1 {
			t.Errorf("%d failed sends: job notified %d times; want exactly 1", fails, got)
		}
	}
}

// TestHandle_RedeliveryNotifiesOrphanedOutcome: the winner of the outcome
// claim died before notifying (the ledger holds the outcome and no
// notified marker). A redelivery inside the notify lease is kept for later;
// one after it sends the notification; further copies send nothing.
func TestHandle_RedeliveryNotifiesOrphanedOutcome(t *testing.T) {
	h := newHarness(t, Config{})
	id := job.NewID("cli", "orphan")
	m := job.Message{JobID: id, Step: job.StepPoll, Ref: "backup/1", Seq: 3, Created: h.clk.Now(), Origin: job.Origin{Source: "cli"},
		Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: job.Name(id)}}
	o := outcomeOf(m, Succeeded, h.clk.Now())
	b, _ := json.Marshal(o)
	if _, err := h.ledger.Claim(context.Background(), keyOutcome(id), b); err != nil {
		t.Fatal(err)
	}
	body, _ := m.Encode()
	ctx := context.Background()
	if err := h.svc.Handle(ctx, body); !errors.Is(err, errNotifyPending) {
		t.Fatalf("redelivery inside the lease: err = %v; want errNotifyPending (kept for redelivery)", err)
	}
	h.clk.Set(h.clk.Now().Add(31 * time.Second))
	for range 3 {
		if err := h.svc.Handle(ctx, body); err != nil {
			t.Fatalf("redelivery after the lease: %v", err)
		}
	}
	if got := len(h.notes.outcomes()[id]); got != 1 {
		t.Errorf("orphaned outcome notified %d times; want exactly 1", got)
	}
}

// TestOutcomeDuration_NeverFromZero: an outcome whose start is unknown has
// no duration, not the span since year 1.
func TestOutcomeDuration_NeverFromZero(t *testing.T) {
	now := time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC)
	for _, o := range []Outcome{{Finished: now}, {Created: now}, {Created: now, Finished: now.Add(-time.Second)}} {
		if d := o.Duration(); d != 0 {
			t.Errorf("Duration(%+v) = %s; want 0", o, d)
		}
	}
	if d := (Outcome{Created: now, Finished: now.Add(time.Minute)}).Duration(); d != time.Minute {
		t.Errorf("Duration = %s; want 1m", d)
	}
}

// TestPoll_ElapsedNeverFromZeroStart: a poll step whose envelope carries no
// start (an older envelope, a hand-written message) measures elapsed time
// from its cause, never from the zero time — which made the next check wait
// the poll cap and printed "still running after 2562047h…".
func TestPoll_ElapsedNeverFromZeroStart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration // from now; 0 = none
		created  time.Duration // before now; 0 = unknown
	}{
		{"running, cause a minute ago", 0, time.Minute},
		{"running, cause unknown", 0, 0},
		{"past its deadline", -time.Second, 2 * time.Hour},
		{"past its deadline, cause unknown", -time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.prov.dur = 10 * time.Hour
			ref, err := h.prov.Start(context.Background(), provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: "backupflow-jz"})
			if err != nil {
				t.Fatal(err)
			}
			now := h.clk.Now()
			m := job.Message{JobID: "jz", Step: job.StepPoll, Ref: ref, Seq: 1,
				Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: "backupflow-jz"}}
			if tc.created > 0 {
				m.Created = now.Add(-tc.created)
			}
			if tc.deadline != 0 {
				m.Deadline = now.Add(tc.deadline)
			}
			body, _ := m.Encode()
			if err := h.svc.Handle(context.Background(), body); err != nil {
				t.Fatal(err)
			}
			if tc.deadline < 0 {
				o := h.notes.outcomes()["jz"]
				if len(o) != 1 || o[0].Result != Stuck || strings.Contains(o[0].Detail, "2562047h") {
					t.Fatalf("outcome %+v; want stuck with a real elapsed time", o)
				}
				return
			}
			if len(h.poll.delay) != 1 || h.poll.delay[0] >= 10*time.Minute {
				t.Errorf("next check in %v; want a short interval, not the poll cap from a zero start", h.poll.delay)
			}
		})
	}
}
