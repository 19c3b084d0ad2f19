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

// TestSummary_RedeliveryThatFilesTheLastOutcomeSendsIt: the run's last job
// claimed its outcome and then failed to count it (its process died there,
// or a ledger read failed). Its redelivery files the outcome and notifies
// (renotifyIfOrphaned) but claims no slot, so no delivery ever claimed the
// run's last one: the summary waited for a sweep, and in the 1,000-job crash
// soak, whose sweeps kept dying, never came. The redelivery that completes
// the run sends it, without a sweep.
func TestSummary_RedeliveryThatFilesTheLastOutcomeSendsIt(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Targets: nightlyTargets[:2]})
	// Each job's first read of the run's count fails: both fail their
	// bookkeeping after claiming their outcome, and are redelivered.
	if _, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.ledger.mu.Lock()
	h.ledger.failGets = map[string]int{"/count": 2}
	h.ledger.mu.Unlock()
	h.run()
	sums := h.notes.summaries()
	if len(sums) != 1 || len(sums[0].Outcomes) != 2 {
		t.Fatalf("summaries = %+v; want one, of both jobs, with no sweep", sums)
	}
}

// TestSummary_ReadsOnlyWhatItDescribes: the summary counts successes from
// the run's listing and reads only the outcomes it lists in full (those
// that did not succeed). It read every job's outcome, one ledger round trip
// each, in the one invocation that sends it; at 800 jobs the crash soak's
// sweeps died before finishing, and at 10,000 it would outlast any budget.
func TestSummary_ReadsOnlyWhatItDescribes(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Targets: nightlyTargets})
	h.prov.startErrs = []error{errPermanentForTest()}
	rep, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	sums := h.notes.summaries()
	if len(sums) != 1 {
		t.Fatalf("%d summaries; want 1", len(sums))
	}
	c := sums[0].Counts()
	if c[Succeeded] != len(nightlyTargets)-1 || c[Failed] != 1 {
		t.Fatalf("summary counts %v; want %d succeeded, 1 failed", c, len(nightlyTargets)-1)
	}
	for _, o := range sums[0].Outcomes {
		if o.Result == Failed && (o.Instance == "" || o.Code == "") {
			t.Errorf("the failed job is summarized without its target or reason: %+v", o)
		}
	}
	reads := 0
	h.ledger.mu.Lock()
	for _, k := range h.ledger.reads {
		if strings.HasPrefix(k, keyRun(rep.Run)+"jobs/") {
			reads++
		}
	}
	h.ledger.mu.Unlock()
	if reads != 1 {
		t.Errorf("the summary read %d of the run's outcomes; want 1 (the failed one)", reads)
	}
}
