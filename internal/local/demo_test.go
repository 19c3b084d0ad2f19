package local

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a goroutine-safe output buffer.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func testOptions(t *testing.T, out *syncBuf) Options {
	return Options{Serverless: "../../serverless.yml", Dir: t.TempDir(), ChatListen: "127.0.0.1:0", Stdout: out,
		View: "lines", JobDuration: time.Second, Tick: 500 * time.Millisecond, Scan: 100 * time.Millisecond}
}

func TestDemo(t *testing.T) {
	out := &syncBuf{}
	v := Demo(context.Background(), testOptions(t, out), 60*time.Second)
	v.Print(out)
	if !v.OK() {
		t.Fatalf("demo failed:\n%s", out)
	}
	if !strings.Contains(out.String(), "DEMO PASSED") {
		t.Errorf("no verdict line:\n%s", out)
	}
	if len(v.Expect) != 11 {
		t.Errorf("%d expectations; want 9 nightly (3 cdb incl. Basic edition, 3 sqlserver incl. single-database files, 3 mongodb incl. cloud disk and TDE), 1 import, 1 chat", len(v.Expect))
	}
	t.Log(out.String())
	checkDemoView(t, v, out.String())
	// README promises the chat command's result as a [slack] reply; the
	// demo's command carried a hooks.slack.com response_url, so the reply
	// went there, off this machine, and never showed.
	if !regexp.MustCompile(`(?m)^\[slack\] ✅ Backup of ` + demoChat + ` succeeded`).MatchString(out.String()) {
		t.Errorf("no [slack] reply with the chat backup's result:\n%s", out)
	}
}

// checkDemoView holds the view and the demo to what they claim (issue 16
// item 7): a header over the lines, no job without kind and target, the
// busy job's real number of tries, the failure's reason as the cloud gave
// it, notification lines that say what they are, and a README that counts
// the demo's faults right.
func checkDemoView(t *testing.T, v Verdict, out string) {
	t.Helper()
	first := -1
	if loc := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d \S+ +(backup|import)/`).FindStringIndex(out); loc != nil {
		first = loc[0]
	}
	if h := strings.Index(out, linesHeader); h < 0 || first < 0 || h > first {
		t.Errorf("no header %q above the first job line:\n%s", linesHeader, out)
	}
	if strings.Contains(out, " ? ") || strings.Contains(out, "? ?") {
		t.Errorf("a job line without kind or target:\n%s", out)
	}
	for _, e := range v.Expect {
		if e.Got == nil || e.Got.Outcome == nil {
			continue
		}
		switch e.Target {
		case demoBusy:
			// Refused once as busy, then started: two tries.
			if e.Got.Attempt != 2 {
				t.Errorf("%s (busy once, then started) shows attempt %d; want 2", e.Target, e.Got.Attempt)
			}
		case demoFailing:
			if d := e.Got.Outcome.Detail; d == "" || d == "failed" || !strings.Contains(d, "no reason") {
				t.Errorf("%s failed with detail %q; want the cloud's answer, saying it gives no reason", e.Target, d)
			}
		case demoChat:
			// Asked for while its nightly backup may still run: busy, retried.
			if e.Got.Attempt < 1 {
				t.Errorf("%s %s shows attempt %d; want at least 1", e.Target, e.Source, e.Got.Attempt)
			}
		default:
			if e.Got.Attempt != 1 {
				t.Errorf("%s %s shows attempt %d; want 1", e.Target, e.Source, e.Got.Attempt)
			}
		}
	}
	if strings.Contains(out, "[print]") || !strings.Contains(out, "[notify] ❌ Backup of "+demoFailing) {
		t.Errorf("team notifications are not marked [notify]:\n%s", out)
	}
	if !strings.Contains(out, "[notify] lines") {
		t.Errorf("the banner does not explain [notify]:\n%s", out)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "two injected faults") {
		t.Errorf("README does not say the demo injects two faults (a failing backup and a busy instance)")
	}
}
