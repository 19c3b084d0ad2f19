package flow

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
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
