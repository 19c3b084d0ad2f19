package tencent

import (
	"context"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
)

func TestPacerSpacesEachActionAtItsRate(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC))
	start := clk.Now()
	var slept []time.Duration
	p := newPacer(clk.Now, func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		clk.Advance(d)
		return nil
	})
	ctx := context.Background()
	for range 3 {
		if err := p.wait(ctx, "cdb.CreateBackup"); err != nil { // 5/s
			t.Fatal(err)
		}
	}
	if got, want := clk.Now().Sub(start), 2*gapAt(5); got != want {
		t.Errorf("three CreateBackup calls took %s; want %s (two gaps at 5/s less the headroom)", got, want)
	}
	// Another action has its own slots: it does not wait behind these.
	if err := p.wait(ctx, "mongodb.DescribeDBInstances"); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 2 {
		t.Errorf("slept %v; want two waits, none for the other action", slept)
	}
	// Idle time is not banked: after a pause the next call goes at once,
	// and the one after it a full gap later.
	clk.Advance(time.Minute)
	slept = nil
	for range 2 {
		if err := p.wait(ctx, "tdmq.SendCmqMsg"); err != nil { // 100/s
			t.Fatal(err)
		}
	}
	if len(slept) != 1 || slept[0] != gapAt(100) {
		t.Errorf("after a pause slept %v; want one wait of %s", slept, gapAt(100))
	}
}

// gapAt is the spacing of slots inside one clock second: the second's
// quota packed into its first PaceShare.
func gapAt(rate float64) time.Duration {
	return time.Duration(PaceShare * float64(time.Second) / rate)
}

// TestPacerUsesTheWholeLimit: every clock second carries its full quota,
// none more. Spacing calls at PaceShare of the rate (before) put 4.5
// CreateBackup calls into a second and 50 of them needed 10.9 s; packed
// into the first PaceShare of each second they need 10 seconds' windows.
func TestPacerUsesTheWholeLimit(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 3, 18, 0, 0, 300_000_000, time.UTC))
	start := clk.Now()
	p := newPacer(clk.Now, func(_ context.Context, d time.Duration) error {
		clk.Advance(d)
		return nil
	})
	perSecond := map[int64]int{}
	for range 50 {
		if err := p.wait(context.Background(), "cdb.CreateBackup"); err != nil { // 5/s
			t.Fatal(err)
		}
		perSecond[clk.Now().Unix()]++
	}
	for sec, n := range perSecond {
		if n > 5 {
			t.Errorf("%d calls in second %d; the limit is 5", n, sec)
		}
	}
	// The first second has 0.7 s left (slots .36, .54 and .72), then nine
	// full seconds of five, and the last one two more.
	if got := len(perSecond); got != 11 {
		t.Errorf("50 calls at 5/s from %s spread over %d clock seconds; want 11 (%v)", start.Format(".000"), got, perSecond)
	}
	if got, want := clk.Now().Sub(start), 10*time.Second+180*time.Millisecond-300*time.Millisecond; got != want {
		t.Errorf("50 calls took %s; want %s", got, want)
	}
}

// Concurrent callers whose requests land up to 80 ms after their slot, as
// on a loaded host or behind a slow connection, never put more calls into
// one clock second than the limit allows (the emulator and the cloud count
// per second).
func TestPacerStaysUnderTheLimitWhenCallsLandLate(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC))
	late := []time.Duration{0, 80 * time.Millisecond, 3 * time.Millisecond, 61 * time.Millisecond, 0, 29 * time.Millisecond}
	p := newPacer(clk.Now, func(_ context.Context, d time.Duration) error {
		clk.Advance(d)
		return nil
	})
	perSecond := map[int64]int{}
	for i := range 400 {
		if err := p.wait(context.Background(), "mongodb.DescribeTransparentDataEncryptionStatus"); err != nil {
			t.Fatal(err)
		}
		// This call reaches the server late; the next caller has already
		// taken its own slot, so the lateness does not push it back.
		perSecond[clk.Now().Add(late[i%len(late)]).Unix()]++
	}
	for sec, n := range perSecond {
		if n > DefaultRate {
			t.Errorf("%d calls in second %d; the limit is %d", n, sec, DefaultRate)
		}
	}
}
