package flow

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestRunView_DrawsThePacing: a run's jobs share their cause (the fan-out)
// but start when the fan-out's spread and the pacer let them, and the page
// must show that: each bar begins at its cloud start, after a grey segment
// from the cause. Drawn from the cause, every bar began at the same x and
// the rate limits were invisible.
func TestRunView_DrawsThePacing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Targets: nightlyTargets})
	rep, err := h.svc.Nightly(ctx, h.clk.Now(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	v, err := h.svc.RunView(ctx, rep.Run)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range v.Jobs {
		if j.Started.IsZero() || j.Started.Before(j.Start) || j.Started.After(j.End) {
			t.Errorf("job %s: started %s; want between its cause %s and its end %s", j.Job, j.Started, j.Start, j.End)
		}
	}

	base := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	paced := RunView{Run: "nightly-x"}
	for i := range 3 {
		paced.Jobs = append(paced.Jobs, RunJob{Job: "j" + strconv.Itoa(i), Instance: "cdb-" + strconv.Itoa(i), Product: "mysql",
			State: string(Succeeded), Start: base, Started: base.Add(time.Duration(i) * 10 * time.Second),
			End: base.Add(time.Duration(60+10*i) * time.Second)})
	}
	page, err := paced.HTML()
	if err != nil {
		t.Fatal(err)
	}
	xs := regexp.MustCompile(`<rect data-job="j(\d)"[^>]* x="([0-9.]+)"`).FindAllSubmatch(page, -1)
	if len(xs) != 3 {
		t.Fatalf("%d job bars; want 3\n%s", len(xs), page)
	}
	prev := -1.0
	for _, m := range xs {
		x, _ := strconv.ParseFloat(string(m[2]), 64)
		if x <= prev {
			t.Errorf("bar of job j%s at x=%.1f, not right of the one started before it (%.1f): the pacing is not drawn", m[1], x, prev)
		}
		prev = x
	}
	if n := len(regexp.MustCompile(`<rect class="wait"`).FindAll(page, -1)); n != 2 {
		t.Errorf("%d queue-wait segments; want 2 (the two jobs that waited)", n)
	}
}
