package flow

import (
	"context"
	"testing"
	"time"
)

func stales(r *recorder) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for _, n := range r.notices {
		if n.Stale != nil {
			m[n.Stale.Instance]++
		}
	}
	return m
}

// runNight runs a full nightly fan-out now and delivers it to its end.
func runNight(t *testing.T, h *harness) {
	t.Helper()
	if _, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.run()
}

// drainFor fires the drain timer's sweep every 10 minutes of virtual time,
// with no nightly run, as SCF does while the nightly timer is gone.
func drainFor(t *testing.T, h *harness, d time.Duration) {
	t.Helper()
	for end := h.clk.Now().Add(d); h.clk.Now().Before(end); h.clk.Advance(10 * time.Minute) {
		if _, err := h.svc.Sweep(context.Background(), false); err != nil {
			t.Fatalf("sweep at %s: %v", h.clk.Now().Format(time.RFC3339), err)
		}
	}
}

// TestStale_StoppedNightlyTimerAlarmsOnce: after one good night the nightly
// timer stops. The drain timer's checks say so once per target, about
// StaleAfter after its last success, and never again while it stays stale;
// a successful run clears it, and a second stop alarms once more.
func TestStale_StoppedNightlyTimerAlarmsOnce(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets[:2]})
	night := func() { t.Helper(); runNight(t, h) }
	night()
	lastOK := h.clk.Now()
	drainFor(t, h, 35*time.Hour)
	if n := len(stales(h.notes)); n != 0 {
		t.Fatalf("alarms within StaleAfter: %v; want none", stales(h.notes))
	}
	drainFor(t, h, 13*time.Hour) // 48 h since the last success
	got := stales(h.notes)
	for _, tg := range nightlyTargets[:2] {
		if got[tg.InstanceID] != 1 {
			t.Errorf("%s alarmed %d times; want once: %v", tg.InstanceID, got[tg.InstanceID], got)
		}
	}
	h.notes.mu.Lock()
	var first *Stale
	for _, n := range h.notes.notices {
		if n.Stale != nil {
			first = n.Stale
			break
		}
	}
	h.notes.mu.Unlock()
	if first == nil || first.Age <= 36*time.Hour || first.Age > 36*time.Hour+h.svc.cfg.StaleEvery+10*time.Minute ||
		first.LastSuccess.Sub(lastOK).Abs() > time.Hour {
		t.Errorf("alarm %+v: want age just over 36h, last success near %s", first, lastOK)
	}

	night() // recovered
	drainFor(t, h, 2*time.Hour)
	if got := stales(h.notes); got[nightlyTargets[0].InstanceID] != 1 {
		t.Errorf("after recovery: %v; want no new alarm", got)
	}
	drainFor(t, h, 40*time.Hour) // stopped again
	if got := stales(h.notes); got[nightlyTargets[0].InstanceID] != 2 || got[nightlyTargets[1].InstanceID] != 2 {
		t.Errorf("after a second stop: %v; want a second alarm each", got)
	}
}

// A nightly timer that never fired at all: the configured targets are
// watched from the first check, and alarm StaleAfter later.
func TestStale_NeverRunNightlyAlarms(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets[:1]})
	drainFor(t, h, 38*time.Hour)
	if got := stales(h.notes); got[nightlyTargets[0].InstanceID] != 1 {
		t.Errorf("alarms %v; want one for %s", got, nightlyTargets[0].InstanceID)
	}
}

// A target a later full run left out (its tag removed, the instance
// deleted) is no longer watched; a narrowed run does not shrink the scope.
func TestStale_TargetThatLeftTheScopeIsNotAlarmed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Targets: nightlyTargets[:2]})
	if _, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.svc.cfg.Targets = nightlyTargets[:1]
	h.clk.Advance(24 * time.Hour)
	if _, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.run()
	// A narrowed run of the remaining target keeps the scope as it is.
	h.clk.Advance(time.Hour)
	if _, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{Targets: []string{nightlyTargets[0].InstanceID}}); err != nil {
		t.Fatal(err)
	}
	h.run()
	drainFor(t, h, 40*time.Hour)
	got := stales(h.notes)
	if got[nightlyTargets[1].InstanceID] != 0 || got[nightlyTargets[0].InstanceID] != 1 {
		t.Errorf("alarms %v; want one for %s only", got, nightlyTargets[0].InstanceID)
	}
}

// A failed alarm send is sent again by a later check, and then only once.
func TestStale_FailedAlarmIsSentLater(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets[:1]})
	fn := &flakyNotifier{fails: 1}
	h.svc.d.Notifier = fn
	for end := h.clk.Now().Add(40 * time.Hour); h.clk.Now().Before(end); h.clk.Advance(10 * time.Minute) {
		_, _ = h.svc.Sweep(context.Background(), false) // the failed send is an error, retried
	}
	if got := stales(&fn.recorder); got[nightlyTargets[0].InstanceID] != 1 {
		t.Errorf("alarms delivered %v; want exactly one", got)
	}
}
