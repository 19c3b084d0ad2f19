package flow

import (
	"context"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// lagFinder hides started jobs from Find, as a cloud whose listing lags its
// starts does: only the start claim's record can tell a job was handed off.
type lagFinder struct{ *fakeProvider }

func (lagFinder) Find(context.Context, provider.Spec) (provider.Ref, bool, error) {
	return "", false, nil
}

// TestCreate_DuplicateWhileStartHeld: two copies of create(seq 0). The
// winner starts the job and hands off poll(1); the copy finds the start
// claim held and queues create(1). Both carry seq 1. Whichever arrives
// second must not be dropped as the other's duplicate, and the create copy
// must not start a second backup.
func TestCreate_DuplicateWhileStartHeld(t *testing.T) {
	for _, createFirst := range []bool{true, false} {
		h := newHarness(t, Config{})
		lag := lagFinder{h.prov}
		h.svc.d.Providers = func(provider.Product) (provider.Provider, error) { return lag, nil }
		ctx := context.Background()
		id := job.NewID("cli", "dup-create")
		m := job.Message{JobID: id, Step: job.StepCreate, Created: h.clk.Now(), Origin: job.Origin{Source: "cli"},
			Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: job.Name(id)}}
		body, _ := m.Encode()
		// The copy runs while the winner holds the start claim (it is
		// inside Start): it queues create(1).
		if _, err := h.ledger.Claim(ctx, keyStart(id), []byte(h.clk.Now().UTC().Format(time.RFC3339Nano))); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.Handle(ctx, body); err != nil {
			t.Fatal(err)
		}
		copyMsg, ok := h.work.next()
		if !ok {
			t.Fatal("the copy queued nothing; want create(1)")
		}
		// The winner finishes: it started the job and handed off poll(1).
		if err := h.ledger.Put(ctx, keyStart(id), []byte("released")); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.create(withLogger(ctx, h.svc.log), m); err != nil {
			t.Fatal(err)
		}
		pollMsg, ok := h.poll.next()
		if !ok {
			t.Fatal("the winner handed off nothing")
		}
		order := []qmsg{pollMsg, copyMsg}
		if createFirst {
			order = []qmsg{copyMsg, pollMsg}
		}
		sentBefore := h.poll.sent
		for _, q := range order {
			h.clk.Set(q.due)
			if err := h.svc.Handle(ctx, q.body); err != nil {
				t.Fatal(err)
			}
		}
		if h.poll.sent == sentBefore {
			t.Errorf("createFirst=%v: poll(1) was dropped as a duplicate of create(1); the job's poll chain is gone", createFirst)
		}
		h.run()
		if h.prov.starts != 1 {
			t.Errorf("createFirst=%v: cloud jobs started = %d; want 1", createFirst, h.prov.starts)
		}
		if got := len(h.notes.outcomes()[id]); got != 1 {
			t.Errorf("createFirst=%v: job notified %d times; want 1", createFirst, got)
		}
	}
}
