package flow

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// budgetLedger is a ledger that, as the real drivers do, refuses every
// call once its context is done, and ends the check's budget (cancel)
// after its first `after` reads of a target's last success.
type budgetLedger struct {
	Ledger
	mu     sync.Mutex
	after  int
	reads  int
	cancel context.CancelFunc
}

func (l *budgetLedger) Get(ctx context.Context, k string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if strings.HasPrefix(k, "watch/ok/") {
		l.mu.Lock()
		l.reads++
		if l.reads == l.after && l.cancel != nil {
			l.cancel()
		}
		l.mu.Unlock()
	}
	return l.Ledger.Get(ctx, k)
}

func (l *budgetLedger) Put(ctx context.Context, k string, v []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.Ledger.Put(ctx, k, v)
}

// TestStale_ACheckCutShortKeepsWhatItRead: at 10,000 targets a check's
// reads outlast its budget (at 100 ms a read, 1,000 s against the sweep's
// share of a 900 s invocation). The targets it did read are remembered,
// so the next check goes on from there; the memory was written with the
// expired context, lost, and every check re-read the same first targets
// and never reached the rest.
func TestStale_ACheckCutShortKeepsWhatItRead(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets})
	bl := &budgetLedger{Ledger: h.svc.d.Ledger, after: 2}
	h.svc.d.Ledger = bl
	if _, err := h.svc.CheckStale(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	// Every target backed up just now, long after it entered the scope:
	// each one is possibly stale by the check's memory, and fresh.
	h.clk.Advance(h.svc.cfg.StaleAfter + 2*time.Hour)
	for _, tg := range nightlyTargets {
		if err := bl.Put(context.Background(), keyWatchOK(tg.InstanceID), []byte(h.clk.Now().UTC().Format(time.RFC3339Nano))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	bl.cancel = cancel
	if _, err := h.svc.CheckStale(ctx, true); err == nil {
		t.Fatal("a check cut short reported no error")
	}
	bl.cancel, bl.reads = nil, 0
	rep, err := h.svc.CheckStale(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(nightlyTargets) - 2; bl.reads != want {
		t.Fatalf("the next check read %d targets' last success; want %d (the cut-short check read 2)", bl.reads, want)
	}
	if rep.Stale != 0 {
		t.Fatalf("stale = %d; want 0", rep.Stale)
	}
}

// TestStale_TheLatestRunVouchesForItsSuccesses: a day after a good night,
// each target's memory of its last success expires together, and the
// check read every target's record in one go — 10,000 reads a day, most
// of an idle day's ledger calls (docs/benchmarks.md). The latest full
// run's listing names its successes: one listing instead.
func TestStale_TheLatestRunVouchesForItsSuccesses(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Targets: nightlyTargets})
	night := func() { t.Helper(); runNight(t, h) }
	night()
	first := h.clk.Now()
	if _, err := h.svc.CheckStale(ctx, true); err != nil {
		t.Fatal(err)
	}
	h.clk.Set(first.Add(24 * time.Hour))
	night()
	// Past StaleAfter since the first night: every target is possibly
	// stale by what the check remembers, and backed up 13 h ago.
	h.clk.Set(first.Add(h.svc.cfg.StaleAfter + time.Hour))
	h.ledger.mu.Lock()
	h.ledger.reads = nil
	h.ledger.mu.Unlock()
	rep, err := h.svc.CheckStale(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	h.ledger.mu.Lock()
	var okReads []string
	for _, k := range h.ledger.reads {
		if strings.HasPrefix(k, "watch/ok/") {
			okReads = append(okReads, k)
		}
	}
	h.ledger.mu.Unlock()
	if len(okReads) != 0 {
		t.Fatalf("the check read %v; want no per-target read: the latest run lists their successes", okReads)
	}
	if rep.Stale != 0 || len(stales(h.notes)) != 0 {
		t.Fatalf("stale = %d, alarms %v; want none", rep.Stale, stales(h.notes))
	}
	// A day and a half after the second night with no run since, the
	// run no longer vouches: the targets are read and alarmed.
	h.clk.Set(first.Add(24*time.Hour + h.svc.cfg.StaleAfter + time.Hour))
	if rep, err = h.svc.CheckStale(ctx, true); err != nil {
		t.Fatal(err)
	}
	if rep.Stale != len(nightlyTargets) {
		t.Fatalf("stale = %d after no run for longer than StaleAfter; want %d", rep.Stale, len(nightlyTargets))
	}
}
