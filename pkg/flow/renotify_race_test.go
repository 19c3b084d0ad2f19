package flow

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// reentrantNotifier runs, inside its first send, what a second worker
// holding another copy of the job's message does at that moment.
type reentrantNotifier struct {
	mu     sync.Mutex
	sent   int
	during func()
}

func (n *reentrantNotifier) Notify(context.Context, Notice) error {
	n.mu.Lock()
	n.sent++
	first := n.sent == 1
	n.mu.Unlock()
	if first && n.during != nil {
		n.during()
	}
	return nil
}

// TestRenotify_ConcurrentCopiesSendOnce: an outcome whose claimant died
// before notifying is sent by whoever next finds it unmarked. Two copies
// of the job's message handled at once (the drain's workers; the sweep's
// copy beside the original) both found it unmarked and both sent: the
// 1,000-job crash soak notified an import twice from one instance, three
// exchanges apart. Only the copy that claims the re-send sends.
func TestRenotify_ConcurrentCopiesSendOnce(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	o := Outcome{JobID: "jorphan000000000001", Result: Succeeded, Op: provider.Backup, Product: provider.MySQL,
		Instance: "cdb-c1nl9rpv", Finished: h.clk.Now().Add(-2 * time.Minute)}
	b, _ := json.Marshal(o)
	if _, err := h.ledger.Claim(ctx, keyOutcome(o.JobID), b); err != nil {
		t.Fatal(err)
	}
	n := &reentrantNotifier{}
	svc, err := New(Config{}, Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return h.prov, nil },
		Work:      h.work, Poll: h.poll, Dead: h.dead, Ledger: h.ledger, Notifier: n,
		Now: h.clk.Now, Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var second error
	n.during = func() { second = svc.renotifyIfOrphaned(ctx, o.JobID) }
	if err := svc.renotifyIfOrphaned(ctx, o.JobID); err != nil {
		t.Fatalf("first copy: %v", err)
	}
	if n.sent != 1 {
		t.Errorf("the orphaned outcome was sent %d times by two concurrent copies; want once", n.sent)
	}
	if second == nil {
		t.Errorf("the second copy returned nil while the first was sending; want it kept for redelivery (pending)")
	}
	// A later copy finds the mark and stops; one whose claimant died with
	// the re-send claim waits out the lease, then sends.
	if err := svc.renotifyIfOrphaned(ctx, o.JobID); err != nil || n.sent != 1 {
		t.Errorf("after the mark: err %v, %d sends; want nil and still one", err, n.sent)
	}
}

// TestRenotify_DeadResenderIsTakenOver: a copy that claimed the re-send and
// died before marking the job notified is taken over once the lease has
// passed — the notification is never lost.
func TestRenotify_DeadResenderIsTakenOver(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	o := Outcome{JobID: "jorphan000000000002", Result: Failed, Op: provider.Backup, Product: provider.MySQL,
		Instance: "cdb-c1nl9rpv", Finished: h.clk.Now().Add(-2 * time.Minute)}
	b, _ := json.Marshal(o)
	if _, err := h.ledger.Claim(ctx, keyOutcome(o.JobID), b); err != nil {
		t.Fatal(err)
	}
	// The dead re-sender's claim, made now.
	if _, err := h.ledger.Claim(ctx, keyResend(o.JobID, resendEpoch(h.clk.Now(), h.svc.cfg.NotifyLease)), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.renotifyIfOrphaned(ctx, o.JobID); err == nil {
		t.Fatal("a copy sent while another's re-send claim was fresh")
	}
	if len(h.notes.outcomes()[o.JobID]) != 0 {
		t.Fatal("sent within the lease")
	}
	h.clk.Advance(h.svc.cfg.NotifyLease + time.Second)
	if err := h.svc.renotifyIfOrphaned(ctx, o.JobID); err != nil {
		t.Fatal(err)
	}
	if got := len(h.notes.outcomes()[o.JobID]); got != 1 {
		t.Errorf("%d notifications after the lease; want 1", got)
	}
}
