package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
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

// The open record is written byte for byte as json.Marshal writes it, for
// envelopes whose strings hold what Marshal escapes or keeps (HTML
// characters, spaces, non-ASCII, quotes) and dues with and without
// fractions of a second.
func TestEncodeOpenIsJSONMarshal(t *testing.T) {
	due := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	for i, m := range []job.Message{
		{JobID: "j1", Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-1"}},
		{JobID: "j2", Step: job.StepPoll, Ref: "a<b>&c", Origin: job.Origin{Source: "chat", User: `o"k \ 雪 `, Reply: "https://x/?a=1&b=2"},
			Created: due.Add(1500 * time.Millisecond), PollFloor: time.Second},
	} {
		body, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []time.Time{due, due.Add(123456789 * time.Nanosecond)} {
			want, err := json.Marshal(openRecord{Msg: body, Due: d})
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeOpen(body, d)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("message %d, due %s: encodeOpen = %s, %v; json.Marshal = %s", i, d, got, err, want)
			}
		}
	}
}
