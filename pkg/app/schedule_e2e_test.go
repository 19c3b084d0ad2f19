package app_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/provider"
)

// schedulerInput is the Input template.yaml gives the nightly schedule's
// target, with its context attribute filled in as EventBridge Scheduler
// does on every attempt of one scheduled invocation.
func schedulerInput(t *testing.T, scheduled time.Time) string {
	t.Helper()
	sam, err := descriptor.LoadSAM("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range sam.Functions() {
		for name, e := range sam.Events(id) {
			if e["Type"] != "ScheduleV2" {
				continue
			}
			props, _ := e["Properties"].(map[string]any)
			in, _ := props["Input"].(string)
			if !strings.Contains(in, "<aws.scheduler.scheduled-time>") {
				t.Fatalf("%s %s: Input %q does not pass <aws.scheduler.scheduled-time>", id, name, in)
			}
			return strings.ReplaceAll(in, "<aws.scheduler.scheduled-time>", scheduled.UTC().Format(time.RFC3339))
		}
	}
	t.Fatal("template.yaml: no ScheduleV2 (EventBridge Scheduler) event")
	return ""
}

// TestEndToEnd_SchedulerRetryMakesOneRun delivers one scheduled invocation
// of the template's nightly schedule twice — EventBridge Scheduler retries
// a target and Lambda retries an async invocation, minutes apart — through
// the deployed create-backup handler: both deliveries name the same run and
// the same jobs, and each instance is backed up once. The run's slot comes
// from the scheduled time, not from when a delivery arrives.
func TestEndToEnd_SchedulerRetryMakesOneRun(t *testing.T) {
	s := newStack(t, emulator.Options{}, nil)
	scheduled := s.clk.Now().Truncate(time.Minute)
	s.clk.Advance(20 * time.Second) // the first attempt arrives a little late
	in := schedulerInput(t, scheduled)

	var first, retry function.Report
	if err := json.Unmarshal(s.invoke(s.create, in), &first); err != nil {
		t.Fatal(err)
	}
	s.clk.Advance(4 * time.Minute)
	if err := json.Unmarshal(s.invoke(s.create, in), &retry); err != nil {
		t.Fatal(err)
	}
	if want := "nightly-" + scheduled.UTC().Format("20060102T1504Z"); first.Run != want {
		t.Errorf("run %q; want %q (the scheduled time's slot)", first.Run, want)
	}
	if first.Run != retry.Run || !slices.Equal(first.Jobs, retry.Jobs) || len(first.Jobs) == 0 {
		t.Fatalf("a retried scheduled invocation made another run:\nfirst %s %v\nretry %s %v", first.Run, first.Jobs, retry.Run, retry.Jobs)
	}
	s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "(job nightly-") })
	per := s.jobsPerName()
	if len(per) != len(first.Jobs) {
		t.Errorf("emulator holds %d distinct backups; want %d", len(per), len(first.Jobs))
	}
	for name, n := range per {
		if n != 1 {
			t.Errorf("%s backed up %d times; want once", name, n)
		}
	}
	for _, j := range s.emu.Jobs() {
		if j.State != provider.Succeeded {
			t.Errorf("%s %s ended %v", j.InstanceID, j.Name, j.State)
		}
	}
	if n := strings.Count(s.out.String(), "(job nightly-"); n != 1 {
		t.Errorf("run summaries: %d; want 1:\n%s", n, s.out.String())
	}
}
