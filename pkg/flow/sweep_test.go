package flow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// TestSweep_CutShortLosesNothing: a sweep stopped by its budget reports the
// stop and sends nothing it did not get to; the next sweep sends every lost
// step once, and each job ends with one outcome.
func TestSweep_CutShortLosesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	var ids []string
	for i, in := range []string{"cdb-c1nl9rpv", "cdb-k2m4p6r8", "cmgo-ayxpky6l"} {
		id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"sweep", fmt.Sprint(i)}, Op: provider.Backup, Instance: in})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	h.work.msgs = nil // every create message lost
	h.clk.Advance(time.Hour)

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if rep, err := h.svc.Sweep(gone, true); err == nil || rep.Requeued != 0 || h.work.sent != len(ids) {
		t.Fatalf("cancelled sweep: %+v, %v, %d sends; want an error and nothing sent", rep, err, h.work.sent-len(ids))
	}
	h.clk.Advance(10 * time.Minute) // the drain timer's next sweep (SweepEvery)
	rep, err := h.svc.Sweep(context.Background(), false)
	if err != nil || rep.Requeued != len(ids) {
		t.Fatalf("next sweep: %+v, %v; want %d requeued", rep, err, len(ids))
	}
	if again, _ := h.svc.Sweep(context.Background(), false); !again.Skipped {
		t.Errorf("a sweep right after: %+v; want skipped (SweepEvery)", again)
	}
	h.run()
	for _, id := range ids {
		if o := h.notes.outcomes()[id]; len(o) != 1 || o[0].Result != Succeeded {
			t.Errorf("job %s outcomes %+v; want one success", id, o)
		}
	}
	if rep, _ := h.svc.Sweep(context.Background(), true); rep.Open != 0 {
		t.Errorf("after the jobs ended the sweep still sees %d open jobs; want their records removed", rep.Open)
	}
}
