package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLocalDemo runs `backupflow local --demo` in this process.
func TestLocalDemo(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"local", "--demo", "--dir", t.TempDir(), "--serverless", "../../serverless.yml",
		"--job-duration", "1s", "--tick", "500ms"}, &out, &errb, noEnv)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
	}
	if !strings.Contains(out.String(), "DEMO PASSED") || strings.Contains(out.String(), "FAIL") {
		t.Errorf("verdict:\n%s", &out)
	}
}

func TestLocalUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"local", "--help"}, ExitOK, "usage: backupflow local"},
		{[]string{"help", "local"}, ExitOK, "--demo"},
		{[]string{"local", "--queue", "kafka://x"}, ExitUsage, "--queue must be cmq or mem://"},
		{[]string{"local", "stray"}, ExitUsage, "unexpected argument"},
		{[]string{"local", "--serverless", "no-such-serverless.yml"}, ExitConfig, "--serverless PATH"},
		{[]string{"local", "--env", "NOEQUALS"}, ExitUsage, "KEY=VALUE"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Run(context.Background(), tc.args, &out, &errb, noEnv); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(out.String()+errb.String(), tc.say) {
				t.Errorf("output lacks %q:\n%s%s", tc.say, &out, &errb)
			}
		})
	}
}

// The lines view prints each job's change as it happens, and a
// notification is printed as it is sent: a job's last line comes before
// the notice about it, and every job of the night before the night's
// summary (issue 16's trial: the view polled the ledger and printed the
// last jobs' lines after the summary the function had already written).
func TestLocalLinesFollowEventOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a local night in real time")
	}
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"local", "--now", "--view", "lines", "--dir", t.TempDir(), "--serverless", "../../serverless.yml",
			"--chat-listen", "off", "--job-duration", "1s", "--tick", "500ms"}, &out, &errb, noEnv)
	}()
	summary := regexp.MustCompile(`(?m)^\[notify\] \S+ (nightly-\S+): `)
	waitFor(t, 90*time.Second, "the night's summary", func() bool { return summary.MatchString(out.String()) })
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("local = %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
	}
	lines := strings.Split(out.String(), "\n")
	row := regexp.MustCompile(`^\d\d:\d\d:\d\d (j\S+) +\S+ +\S+ +(\S+) `)
	notice := regexp.MustCompile(`^\[\w+\] .* \(job (\S+)\)$`)
	ended := map[string]int{} // job → the line of its outcome
	night := -1
	for i, l := range lines {
		if m := row.FindStringSubmatch(l); m != nil && m[2] != "queued" && m[2] != "running" {
			ended[m[1]] = i
		}
		if m := notice.FindStringSubmatch(l); m != nil {
			if strings.HasPrefix(m[1], "nightly-") {
				night = i
			} else if _, ok := ended[m[1]]; !ok {
				t.Errorf("line %d, a notice about job %s, comes before the job's outcome line", i+1, m[1])
			}
		}
	}
	if night < 0 || len(ended) == 0 {
		t.Fatalf("no summary line or no job outcome in the output:\n%s", &out)
	}
	for id, i := range ended {
		if i > night {
			t.Errorf("job %s's outcome (line %d) comes after the night's summary (line %d)", id, i+1, night+1)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", &out)
	}
}
