package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
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
// backup fails at once, naming why, instead of retrying for hours; also
// when the instance is not tagged for nightly discovery, for each product.
func TestWaitIsolatedFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	fleet := fixture.Default()
	untagged := map[string]string{"team": "db"}
	fleet.Instances = append(fleet.Instances,
		fixture.Instance{Product: provider.MySQL, ID: "cdb-iso00002", Status: "isolated", Tags: untagged},
		fixture.Instance{Product: provider.SQLServer, ID: "mssql-iso00002", Status: "isolated", Tags: untagged},
		fixture.Instance{Product: provider.MongoDB, ID: "cmgo-iso00002", Status: "isolated", Tags: untagged},
		fixture.Instance{Product: provider.HuaweiRDS, ID: "d8e6ca5a624745bcb546a227aa3ae1cfin09", Region: "cn-north-4",
			Engine: "MySQL", Status: "isolated", Tags: untagged},
	)
	emulatorEnvWith(t, emulator.Options{Fleet: fleet})
	for _, tc := range []struct {
		instance, reason string
		started          bool // the lookup found nothing: the create says why
	}{
		{"cdb-iso00001", "isolated", false}, // tagged: discovery would skip it too
		{"cdb-iso00002", "isolated", false},
		{"mssql-iso00002", "isolated", false},
		{"cmgo-iso00002", "isolated", false},
		{"d8e6ca5a624745bcb546a227aa3ae1cfin09", "frozen", false},
		{"cdb-nosuch01", "InstanceNotFound", true},
	} {
		t.Run(tc.instance, func(t *testing.T) {
			start := time.Now()
			code, out, errs := run(t, getenvOS, "backup", "--instance", tc.instance, "--wait", "--timeout", "15s")
			said := errs
			if tc.started {
				said = out
			}
			if code != ExitFailed || !strings.Contains(said, tc.reason) || strings.Contains(errs, "nothing was started") == tc.started ||
				strings.Contains(out, "queued") != tc.started || time.Since(start) > 10*time.Second {
				t.Errorf("backup of an isolated instance = %d after %s; want %d naming %q at once, no job\nstdout:\n%s\nstderr:\n%s",
					code, time.Since(start).Round(time.Second), ExitFailed, tc.reason, out, errs)
			}
		})
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

// A --wait run shows its progress and outcome on stdout; the flow's INFO
// lines (cloud job started, will retry, job finished) repeat them and are
// not on stderr unless asked for, but a warning always is (issue 16's
// trial: INFO lines cluttered the terminal).
func TestWaitLogsWarningsNotInfo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emu := emulatorEnv(t)
	// The default, not the one the other tests set for the functions.
	t.Setenv("BACKUPFLOW_LOG_LEVEL", "")
	if err := emu.COS.Put("backups-1250000000", "manual/orders.bak", append([]byte("MSSQLBAK"), make([]byte, 64)...)); err != nil {
		t.Fatal(err)
	}
	infoLine := regexp.MustCompile(`(?m)^time=\S+ level=INFO `)
	for _, tc := range []struct {
		name     string
		args     []string
		busy     string // an instance busy throughout, so its retries run out
		code     int
		info     bool   // INFO lines wanted on stderr
		warnings string // a warning stderr must carry
	}{
		{"backup", []string{"backup", "--instance", "cdb-c1nl9rpv", "--wait", "--timeout", "1m"}, "", ExitOK, false, ""},
		{"import", []string{"import", "--object", "cos://backups-1250000000/manual/orders.bak", "--instance", "mssql-rdc0gajn",
			"--wait", "--timeout", "1m"}, "", ExitOK, false, ""},
		{"retries run out", []string{"backup", "--instance", "cdb-k2m4p6r8", "--wait", "--timeout", "1m"}, "cdb-k2m4p6r8", ExitFailed,
			false, "level=WARN msg=\"retry budget spent\""},
		{"asked for info", []string{"--log-level", "info", "backup", "--instance", "cdb-c1nl9rpv", "--wait", "--timeout", "1m"}, "",
			ExitOK, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.busy != "" {
				t.Setenv("BACKUPFLOW_RETRY_BUDGET", "3s")
				emu.Tencent.SetBusy(tc.busy, true)
				defer emu.Tencent.SetBusy(tc.busy, false)
			}
			code, out, errs := run(t, getenvOS, tc.args...)
			if code != tc.code || infoLine.MatchString(errs) != tc.info || !strings.Contains(errs, tc.warnings) {
				t.Errorf("%v = %d, want %d with INFO lines on stderr %v and a warning %q\nstdout:\n%s\nstderr:\n%s",
					tc.args, code, tc.code, tc.info, tc.warnings, out, errs)
			}
		})
	}
}
