package app_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/cli"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// runCLI runs the backupflow CLI in this process with the stack's
// environment (the emulator's COS ledger and CMQ queues).
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"--log-level", "warn"}, args...), &out, &errb, os.Getenv)
	t.Logf("$ backupflow %s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	return code, out.String()
}

// TestEndToEnd_DeadLetterReplayedByCLI (issue 19 item 3): a backup whose
// instance stays busy past the retry budget ends dead-lettered over the
// emulator's COS ledger and CMQ queues. `backupflow dead list` shows it;
// `dead replay` hands it back as one new job, however often it is run; the
// drain timers bring that job to one outcome, notified once, with one
// backup in the cloud.
func TestEndToEnd_DeadLetterReplayedByCLI(t *testing.T) {
	// The CLI signs its COS and CMQ requests with the wall clock, the
	// emulator checks them on the virtual one: a short budget keeps the two
	// within the signatures' validity.
	s := newStack(t, emulator.Options{JobDuration: 30 * time.Second}, map[string]string{"BACKUPFLOW_RETRY_BUDGET": "1m"})
	const instance = "cdb-c1nl9rpv"
	s.emu.Tencent.SetBusy(instance, true)
	ctx := context.Background()
	id, err := s.app.Service.Enqueue(ctx, flow.Request{ID: []string{"e2e", "dead"}, Op: provider.Backup, Instance: instance,
		Origin: job.Origin{Source: "cli"}})
	if err != nil {
		t.Fatal(err)
	}
	outcome := func(id string) *flow.Outcome {
		_, o, _ := s.app.Service.State(ctx, id)
		return o
	}
	s.runFor(10*time.Minute, func() bool { return outcome(id) != nil })
	if o := outcome(id); o.Result != flow.DeadLettered {
		t.Fatalf("job %s ended %s; want dead-lettered", id, o.Result)
	}
	s.emu.Tencent.SetBusy(instance, false)

	code, out := runCLI(t, "dead", "list")
	if code != cli.ExitOK || !strings.Contains(out, id) || !strings.Contains(out, "backup "+instance) || !strings.Contains(out, "waiting") {
		t.Fatalf("dead list = %d:\n%s\nwant %s, backup %s, waiting", code, out, id, instance)
	}
	replay := flow.ReplayID(id)
	code, out = runCLI(t, "dead", "replay", id)
	if code != cli.ExitOK || !strings.Contains(out, "replayed as job "+replay) {
		t.Fatalf("dead replay = %d:\n%s", code, out)
	}
	// Run again, singly and as --all: nothing more is sent.
	if code, out := runCLI(t, "dead", "replay", id); code != cli.ExitOK || !strings.Contains(out, "already replayed") {
		t.Errorf("second dead replay = %d:\n%s", code, out)
	}
	if code, out := runCLI(t, "dead", "replay", "--all"); code != cli.ExitOK || !strings.Contains(out, "No dead letters waiting") {
		t.Errorf("dead replay --all = %d:\n%s", code, out)
	}
	if v, f, d := s.emu.CMQ.Stats("backupflow-work"); v+f+d != 1 {
		t.Errorf("work queue holds %d messages after three replays; want 1", v+f+d)
	}

	s.runFor(10*time.Minute, func() bool { return outcome(replay) != nil })
	if o := outcome(replay); o.Result != flow.Succeeded || o.Origin.ReplayOf != id {
		t.Fatalf("replay %s: %+v; want succeeded, replaying %s", replay, o, id)
	}
	// Let any stray copy run out before counting.
	drain := `{"Type":"Timer","TriggerName":"drain","Message":"drain"}`
	for range 4 {
		s.clk.Advance(30 * time.Second)
		s.invoke(s.create, drain)
		s.invoke(s.poll, drain)
	}
	t.Logf("virtual clock ahead of the wall clock by %s", time.Until(s.clk.Now()).Round(time.Second))
	if n := strings.Count(s.out.String(), "(job "+replay+")"); n != 1 {
		t.Errorf("replay notified %d times; want once:\n%s", n, s.out.String())
	}
	if n := s.jobsPerName()[instance+"/"+job.Name(id)]; n != 1 {
		t.Errorf("%d backups named %s; want 1 (the replay keeps the dead job's name)", n, job.Name(id))
	}
	if code, out := runCLI(t, "status", replay); code != cli.ExitOK || !strings.Contains(out, "succeeded") {
		t.Errorf("status %s = %d:\n%s", replay, code, out)
	}
	code, out = runCLI(t, "dead", "replay", id)
	if code != cli.ExitOK || !strings.Contains(out, "already replayed as job "+replay+" (succeeded)") {
		t.Errorf("dead replay after the outcome = %d:\n%s", code, out)
	}
	if v, f, d := s.emu.CMQ.Stats("backupflow-work"); v+f+d != 0 {
		t.Errorf("work queue holds %d messages after a replay of an ended job; want 0", v+f+d)
	}
	if code, out := runCLI(t, "dead", "drop", id); code != cli.ExitOK || !strings.Contains(out, "dropped") {
		t.Errorf("dead drop = %d:\n%s", code, out)
	}
	if code, out := runCLI(t, "dead", "list"); code != cli.ExitOK || !strings.Contains(out, "No dead letters") {
		t.Errorf("dead list after drop = %d:\n%s", code, out)
	}
}
