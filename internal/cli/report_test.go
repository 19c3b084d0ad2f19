package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/queue"
)

// demoNight runs one nightly run over the emulator's default fleet in this
// process, through the deployed wiring, until every job has its outcome.
func demoNight(t *testing.T) flow.RunReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: getenvOS}
	env = envWithLog(env, "text", "warn")
	a, code := openApp(ctx, env, nil)
	if a == nil {
		t.Fatalf("open: exit %d", code)
	}
	rep, err := a.Service.Nightly(ctx, time.Now(), flow.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		for _, q := range []*queue.Queue{a.Work, a.Poll} {
			msgs, err := q.Receive(ctx, 16, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if a.Service.Handle(ctx, m.Body) == nil {
					_ = q.Delete(ctx, m.Receipt)
				}
			}
		}
		done := 0
		for _, id := range rep.Jobs {
			if _, out, _ := a.Service.State(ctx, id); out != nil {
				done++
			}
		}
		if done == len(rep.Jobs) {
			return rep
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the night did not end: %d of %d jobs have an outcome", done, len(rep.Jobs))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var barRE = regexp.MustCompile(`<rect[^>]*\bdata-job="`)

// TestReportAfterADemoNight: after a night over the default fleet, report
// lists every job of the run; the HTML page draws one bar per job, counted
// in the page a real headless Chromium rendered when one is installed
// (make report-browser-test installs it), with a screenshot taken.
func TestReportAfterADemoNight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a night in real time")
	}
	emulatorEnv(t)
	rep := demoNight(t)

	code, out, errs := run(t, getenvOS, "report", "--json")
	var v flow.RunView
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("report --json = %d\n%s%s", code, out, errs)
	}
	if v.Run != rep.Run || len(v.Jobs) != len(rep.Jobs) || len(v.Skipped) != len(rep.Skipped) {
		t.Errorf("report: run %s, %d jobs, %d skipped; the run was %s, %d jobs, %d skipped", v.Run, len(v.Jobs), len(v.Skipped), rep.Run, len(rep.Jobs), len(rep.Skipped))
	}
	for _, j := range v.Jobs {
		if j.State != string(flow.Succeeded) || j.Start.IsZero() || j.End.IsZero() || j.Duration <= 0 || j.Instance == "" {
			t.Errorf("job %+v; want succeeded with its instance, start, end and duration", j)
		}
	}
	if code, out, errs := run(t, getenvOS, "report", "--run", rep.Run); code != ExitOK || !strings.Contains(out, "Run "+rep.Run) {
		t.Errorf("report --run = %d\n%s%s", code, out, errs)
	}

	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if code, out, errs := run(t, getenvOS, "report", "--html", page); code != ExitOK {
		t.Fatalf("report --html = %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(barRE.FindAll(b, -1)); n != len(rep.Jobs) {
		t.Errorf("the page has %d bars; the run has %d jobs", n, len(rep.Jobs))
	}
	if strings.Contains(string(b), "<script") || regexp.MustCompile(`(src|href)="(https?:)?//`).Match(b) {
		t.Errorf("the page is not self-contained (a script or an external resource)")
	}

	chromium := os.Getenv("BACKUPFLOW_CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	if chromium == "" {
		t.Log("SKIPPED the browser check: no chromium (make report-browser-test installs it)")
		return
	}
	browse := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "profile")}, args...)
		out, err := exec.CommandContext(ctx, chromium, append(args, "file://"+page)...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", chromium, args, err)
		}
		return out
	}
	dom := browse("--dump-dom")
	if n := len(barRE.FindAll(dom, -1)); n != len(rep.Jobs) {
		t.Errorf("Chromium rendered %d bars; the run has %d jobs", n, len(rep.Jobs))
	}
	shot := os.Getenv("BACKUPFLOW_REPORT_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "report.png")
	}
	browse("--screenshot="+shot, "--window-size=1000,520", "--hide-scrollbars")
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Errorf("no screenshot at %s: %v", shot, err)
	}
}
