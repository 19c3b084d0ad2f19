package flow

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// listFailLedger fails every listing, as a ledger outage mid-summary does.
type listFailLedger struct{ *fakeLedger }

func (listFailLedger) List(context.Context, string) ([]string, error) {
	return nil, errors.New("cos: 503 service unavailable")
}

// TestSummary_LedgerErrorsAreLogged: a ledger error while summarizing a run
// is logged with the run, never dropped silently.
func TestSummary_LedgerErrorsAreLogged(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets[:1]})
	var logs bytes.Buffer
	h.svc.log = slog.New(slog.NewJSONHandler(&logs, nil))
	if _, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.svc.d.Ledger = listFailLedger{h.ledger}
	h.run()
	if !strings.Contains(logs.String(), "503 service unavailable") || !strings.Contains(logs.String(), `"run":"nightly-`) {
		t.Errorf("logs do not report the ledger error with the run:\n%s", logs.String())
	}
}

// A run summary whose send fails (or whose sender dies after claiming it)
// is sent by a later sweep once the claim's lease has run out — once, and
// the run is then closed. It used to be logged and never sent (found by
// internal/reliability TestCrashSoak).
func TestSummary_SweepSendsAnUnsentSummaryOnce(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Targets: nightlyTargets[:2]})
	h.notes.failSummary = 1
	if _, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.run()
	if n := len(h.notes.summaries()); n != 0 {
		t.Fatalf("%d summaries after a failed send; want 0", n)
	}
	// Within the lease the claimant may still be sending: nothing yet.
	if _, err := h.svc.Sweep(ctx, true); err != nil {
		t.Fatal(err)
	}
	if n := len(h.notes.summaries()); n != 0 {
		t.Fatalf("%d summaries from a sweep inside the lease; want 0", n)
	}
	h.clk.Advance(h.svc.cfg.NotifyLease + time.Minute)
	for range 2 {
		if _, err := h.svc.Sweep(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	sums := h.notes.summaries()
	if len(sums) != 1 || len(sums[0].Outcomes) != 2 {
		t.Fatalf("summaries = %+v; want one, of both jobs", sums)
	}
	if open, _ := h.ledger.List(ctx, "open-runs/"); len(open) != 0 {
		t.Errorf("open runs after the summary was sent: %v", open)
	}
}
