package flow

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Issue 14 item 8: `status <instance>` reads an index by instance, newest
// first, instead of listing every job the ledger holds.
func TestInstanceJobs_readsTheIndex(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	var ids []string
	for i, inst := range []string{"cdb-c1nl9rpv", "mssql-njj2mtpl", "cdb-c1nl9rpv", "cdb-c1nl9rpv", "cdb-c1nl9rpv"} {
		id, err := h.svc.Enqueue(ctx, Request{ID: []string{"cli", "idx", string(rune('a' + i))}, Op: provider.Backup, Instance: inst})
		if err != nil {
			t.Fatal(err)
		}
		if inst == "cdb-c1nl9rpv" {
			ids = append(ids, id)
		}
		h.clk.Advance(time.Minute)
	}
	h.ledger.mu.Lock()
	h.ledger.lists = nil
	h.ledger.mu.Unlock()
	got, err := h.svc.InstanceJobs(ctx, "cdb-c1nl9rpv", 3)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, j := range got {
		gotIDs = append(gotIDs, j.JobID)
	}
	want := []string{ids[3], ids[2], ids[1]}
	if strings.Join(gotIDs, ",") != strings.Join(want, ",") {
		t.Errorf("InstanceJobs = %v; want the newest three of the instance %v", gotIDs, want)
	}
	for _, p := range h.ledger.lists {
		if !strings.HasPrefix(p, "instances/cdb-c1nl9rpv/") {
			t.Errorf("InstanceJobs listed %q; want only the instance's index", p)
		}
	}
}

// A chat resend enqueues its job again (Enqueue is idempotent per job id).
// For a job already known, that must neither send another create nor reset
// its recorded state to "queued".
func TestEnqueue_knownJobIsLeftAlone(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	req := Request{JobID: "chat-resend-0001", Op: provider.Backup, Instance: "cdb-c1nl9rpv"}
	if _, err := h.svc.Enqueue(ctx, req); err != nil {
		t.Fatal(err)
	}
	h.run()
	before, out, err := h.svc.State(ctx, req.JobID)
	if err != nil || out == nil {
		t.Fatalf("first run: state %+v outcome %v err %v", before, out, err)
	}
	if _, err := h.svc.Enqueue(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.work.peek(); ok {
		t.Errorf("a second Enqueue of a known job sent another create")
	}
	after, _, _ := h.svc.State(ctx, req.JobID)
	if after.State != before.State {
		t.Errorf("state %q became %q", before.State, after.State)
	}
}
