package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
)

// docNightAt is the night the docs' samples show. A fixed past time on a
// virtual clock makes every time, duration and job id in them the same on
// every run.
var docNightAt = time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)

// docNight runs one nightly run over the emulator's default fleet (every
// backup of cmgo-ayxpky6l failing) through the deployed function table,
// over HTTP, on a virtual clock, until every job has its outcome. It
// returns the environment an operator's shell would hold: the emulator's
// export block and the ledger the night wrote. The clock is then moved to
// the real time, so commands run after it sign their calls as the
// emulator expects.
func docNight(t *testing.T, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	clk := clocktest.New(docNightAt)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Backups of 2 to 12 minutes, so the night's bars and the plan's
	// window show a spread.
	fleet := fixture.Default()
	for i := range fleet.Instances {
		fleet.Instances[i].Duration = time.Duration(2+(i*7)%11) * time.Minute
	}
	emu, err := emulator.New(emulator.Options{Now: clk.Now, Fleet: fleet, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.Tencent.SetFailJobs("cmgo-ayxpky6l", "fault injected for the docs' night")
	vars := emu.Env(srv.URL)
	for k, v := range map[string]string{"BACKUPFLOW_LEDGER": "mem://" + name, "BACKUPFLOW_WORK_QUEUE": "mem://" + name + "-work",
		"BACKUPFLOW_POLL_QUEUE": "mem://" + name + "-poll", "BACKUPFLOW_DEAD_QUEUE": "mem://" + name + "-dead",
		"BACKUPFLOW_NOTIFY": "print:", "BACKUPFLOW_LOG_LEVEL": "error"} {
		vars[k] = v
	}
	cfg, err := config.LoadFrom(lookup(vars))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, app.Options{Now: clk.Now, Sleep: clk.Sleep, Getenv: lookup(vars), Stdout: io.Discard, Logger: discard, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	handler := func(fn string) func(string) {
		entry, ok := app.Lookup(fn)
		if !ok {
			t.Fatalf("no %s in the function table", fn)
		}
		h, err := entry.Handler(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		return func(payload string) {
			t.Helper()
			if _, err := h(ctx, []byte(payload)); err != nil {
				t.Fatalf("%s: %v", fn, err)
			}
		}
	}
	create, poll := handler(app.CreateBackup), handler(app.PollStatus)
	create(`{"Type":"Timer","TriggerName":"nightly","Time":"` + docNightAt.Format(time.RFC3339) + `","Message":""}`)
	drain := `{"Type":"Timer","TriggerName":"drain","Time":"` + docNightAt.Format(time.RFC3339) + `","Message":"drain"}`
	for {
		create(drain)
		poll(drain)
		v, err := a.Service.RunView(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, j := range v.Jobs {
			if slices.Contains([]flow.Result{flow.Succeeded, flow.Failed, flow.Stuck, flow.DeadLettered}, flow.Result(j.State)) {
				done++
			}
		}
		if len(v.Jobs) > 0 && done == len(v.Jobs) {
			break
		}
		if clk.Now().Sub(docNightAt) > 3*time.Hour {
			t.Fatalf("the night did not end in 3 h of virtual time: %d of %d jobs have an outcome", done, len(v.Jobs))
		}
		clk.Advance(10 * time.Second)
	}
	clk.Set(time.Now())
	return vars
}

// TestOperationsDocSamples runs the commands of docs/operations.md's
// "Tonight's plan and last night's report" as written, after the docs'
// night, and compares their output with the blocks; with
// BACKUPFLOW_UPDATE_DOCS=1 it writes the output into the blocks instead.
func TestOperationsDocSamples(t *testing.T) {
	doc, err := filepath.Abs("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := docNight(t, "docsample-operations")
	t.Chdir(t.TempDir()) // report --html writes its file here
	checkDocSamples(t, doc, "## Tonight's plan and last night's report", vars)
}

// checkDocSamples finds, in the section of file that starts with heading,
// every fenced block whose first line is `$ backupflow ARGS`, runs ARGS
// with the environment vars, and compares the block's remaining lines
// with the output.
func checkDocSamples(t *testing.T, path, heading string, vars map[string]string) {
	t.Helper()
	file := filepath.Base(path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\n") == heading {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("%s has no section %q", file, heading)
	}
	update := os.Getenv("BACKUPFLOW_UPDATE_DOCS") == "1"
	var out []string
	out = append(out, lines[:start+1]...)
	samples := 0
	i := start + 1
	for i < len(lines) {
		l := lines[i]
		if strings.HasPrefix(l, "## ") {
			break // the next section
		}
		if fence := strings.TrimRight(l, "\n"); fence != "```" && fence != "```console" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "$ backupflow ") {
			out = append(out, l)
			i++
			continue
		}
		cmd := strings.TrimRight(lines[i+1], "\n")
		end := i + 2
		for end < len(lines) && strings.TrimRight(lines[end], "\n") != "```" {
			end++
		}
		if end == len(lines) {
			t.Fatalf("%s: the block of %q is not closed", file, cmd)
		}
		doc := strings.Join(lines[i+2:end], "")
		args := strings.Fields(strings.TrimPrefix(cmd, "$ backupflow "))
		code, stdout, stderr := run(t, lookup(vars), args...)
		if code != ExitOK {
			t.Errorf("%s: %q exited %d\n%s%s", file, cmd, code, stdout, stderr)
		}
		samples++
		if !update && stdout != doc {
			t.Errorf("%s: the block of %q is not what it prints (BACKUPFLOW_UPDATE_DOCS=1 rewrites it)\n--- doc\n%s--- printed\n%s", file, cmd, doc, stdout)
		}
		out = append(out, lines[i], lines[i+1], stdout, lines[end])
		i = end + 1
	}
	out = append(out, lines[i:]...)
	if samples == 0 {
		t.Fatalf("%s %q has no `$ backupflow` block", file, heading)
	}
	if update {
		if err := os.WriteFile(path, []byte(strings.Join(out, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %d blocks of %s", samples, file)
	}
}
