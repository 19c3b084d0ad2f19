package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// While the create is retried (the instance is busy), --wait says so, with
// the attempt and the cloud's last answer, instead of "queued after 0
// status checks"; the job then succeeds (issue 16 item 6).
func TestWaitShowsRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emu := emulatorEnv(t)
	emu.Tencent.SetBusy("cdb-k2m4p6r8", true)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), []string{"backup", "--instance", "cdb-k2m4p6r8", "--wait", "--timeout", "2m"}, &out, &errb, getenvOS)
	}()
	waitFor(t, time.Minute, "a retry line", func() bool { return strings.Contains(out.String(), "attempt 2") })
	emu.Tencent.SetBusy("cdb-k2m4p6r8", false)
	if code := <-done; code != ExitOK {
		t.Fatalf("backup --wait = %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
	}
	got := out.String()
	if regexp.MustCompile(`queued after \d+ status checks`).MatchString(got) {
		t.Errorf("--wait still prints the bare queued line while retrying:\n%s", got)
	}
	if !regexp.MustCompile(`retrying the create, attempt \d+, \d+s elapsed, last answer: \S*ActionInProcess`).MatchString(got) {
		t.Errorf("no retry line with the attempt, elapsed time and the cloud's answer:\n%s", got)
	}
	if strings.Contains(got, "\r") {
		t.Errorf("not a terminal, yet the progress line is redrawn:\n%q", got)
	}
}

// An isolated instance is checked first, as the nightly run does, and the
// backup fails at once, naming why, instead of retrying for hours.
func TestWaitIsolatedFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emulatorEnv(t)
	start := time.Now()
	code, out, errs := run(t, getenvOS, "backup", "--instance", "cdb-iso00001", "--wait", "--timeout", "1m")
	if code != ExitFailed || !strings.Contains(out+errs, "isolated") || time.Since(start) > 20*time.Second {
		t.Errorf("backup of an isolated instance = %d after %s; want %d naming isolated at once\nstdout:\n%s\nstderr:\n%s",
			code, time.Since(start).Round(time.Second), ExitFailed, out, errs)
	}
}

// On a terminal the progress is one line redrawn in place; elsewhere each
// change is a line of its own and the ticking time alone prints nothing.
func TestProgressRendering(t *testing.T) {
	for _, tc := range []struct {
		terminal bool
		want     string
	}{
		{false, "12:00:00 job j1: running, 0 status checks, 1s elapsed\n12:00:02 job j1: running, 1 status checks, 3s elapsed\n"},
		{true, "\r\x1b[Kjob j1: running, 0 status checks, 1s elapsed\r\x1b[Kjob j1: running, 0 status checks, 2s elapsed\r\x1b[Kjob j1: running, 1 status checks, 3s elapsed"},
	} {
		var b strings.Builder
		p := &progress{w: &b, terminal: tc.terminal}
		at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
		p.show(at, "job j1: running, 0 status checks", time.Second)
		p.show(at.Add(time.Second), "job j1: running, 0 status checks", 2*time.Second)
		p.show(at.Add(2*time.Second), "job j1: running, 1 status checks", 3*time.Second)
		if b.String() != tc.want {
			t.Errorf("terminal=%v:\n got %q\nwant %q", tc.terminal, b.String(), tc.want)
		}
	}
}
