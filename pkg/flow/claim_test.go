package flow

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// lyingLedger says every outcome claim is lost, yet keeps no outcome: what
// a store that answers "conflict" without the record being there looks
// like from the flow.
type lyingLedger struct{ *fakeLedger }

func (l lyingLedger) Claim(ctx context.Context, k string, v []byte) (bool, error) {
	if strings.HasSuffix(k, "/outcome") {
		return false, nil
	}
	return l.fakeLedger.Claim(ctx, k, v)
}

// TestFinish_LostClaimWithoutOutcomeIsAnError (issue 13 item 10): a lost
// outcome claim with no outcome recorded ended the step silently, leaving
// the job with no outcome and no message. It is an error: the message is
// kept for redelivery.
func TestFinish_LostClaimWithoutOutcomeIsAnError(t *testing.T) {
	h := newHarness(t, Config{})
	svc, err := New(Config{}, Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return h.prov, nil },
		Work:      h.work, Poll: h.poll, Dead: h.dead, Ledger: lyingLedger{h.ledger}, Notifier: h.notes,
		Now: h.clk.Now, Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	perm := errPermanentForTest()
	h.prov.startErrs = []error{perm}
	if _, err := svc.Enqueue(context.Background(), Request{ID: []string{"cli", "lost"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"}); err != nil {
		t.Fatal(err)
	}
	m, ok := h.work.next()
	if !ok {
		t.Fatal("nothing queued")
	}
	if err := svc.Handle(context.Background(), m.body); err == nil {
		t.Fatal("Handle = nil: the lost claim with no outcome ended the step silently")
	}
}

func errPermanentForTest() error {
	return apierr.New(apierr.Tencent, "cdb", "CreateBackup", "InvalidParameter.InstanceNotFound", "no instance", "req-1", 0, nil)
}
