package cli

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
)

// After three backups of one instance and a keep-last-1 rule, the dry run
// lists exactly the two older backupflow backups to delete; the newest,
// the cloud's automatic backup, one made by hand and one whose name only
// looks like backupflow's are kept, each with its reason; nothing is deleted.
func TestRetentionDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emu := emulatorEnv(t)
	const inst = "cdb-c1nl9rpv"
	past := time.Now().Add(-72 * time.Hour)
	auto, err := emu.Tencent.SeedBackup(inst, "", true, past)
	if err != nil {
		t.Fatal(err)
	}
	byHand, _ := emu.Tencent.SeedBackup(inst, "before-upgrade", false, past.Add(time.Hour))
	lookalike, _ := emu.Tencent.SeedBackup(inst, job.Name(job.NewID("nightly", "19990101T0000Z", inst)), false, past.Add(2*time.Hour))
	for range 3 {
		if code, out, errs := run(t, getenvOS, "backup", "--instance", inst, "--wait", "--timeout", "1m"); code != ExitOK {
			t.Fatalf("backup --wait = %d\n%s%s", code, out, errs)
		}
	}
	var ours []string // oldest first
	jobs := emu.Tencent.Jobs()
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Created.Before(jobs[j].Created) })
	for _, j := range jobs {
		if j.InstanceID == inst && strings.HasPrefix(j.Name, "backupflow-") && j.ID != lookalike {
			ours = append(ours, j.ID)
		}
	}
	if len(ours) != 3 {
		t.Fatalf("emulator holds %d backupflow backups of %s; want 3: %+v", len(ours), inst, jobs)
	}
	t.Setenv("BACKUPFLOW_RETENTION", "keep-last=1")
	for _, args := range [][]string{
		{"retention", "--instance", inst, "--dry-run"},                     // the configured rule
		{"retention", "--instance", inst, "--keep-last", "1", "--dry-run"}, // a previewed rule
	} {
		code, out, errs := run(t, getenvOS, args...)
		if code != ExitOK {
			t.Fatalf("%v = %d\n%s%s", args, code, out, errs)
		}
		t.Logf("%v:\n%s", args, out)
		verdicts := map[string]string{} // backup id -> its line
		var deleted []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || (f[0] != "delete" && f[0] != "keep") {
				continue
			}
			verdicts[f[1]] = line
			if f[0] == "delete" {
				deleted = append(deleted, f[1])
			}
		}
		slices.Sort(deleted)
		want := append([]string(nil), ours[:2]...)
		slices.Sort(want)
		if !slices.Equal(deleted, want) {
			t.Errorf("%v deletes %v; want exactly the two older backupflow backups %v\n%s", args, deleted, want, out)
		}
		for id, reason := range map[string]string{ours[2]: "newest", auto: "automatic", byHand: "not made by backupflow",
			lookalike: "not made by backupflow"} {
			if !strings.Contains(verdicts[id], "keep") || !strings.Contains(verdicts[id], reason) {
				t.Errorf("%v: backup %s: %q; want kept: %s\n%s", args, id, verdicts[id], reason, out)
			}
		}
		if !strings.Contains(out, "2 backups would be deleted; nothing was deleted") {
			t.Errorf("%v: no summary line:\n%s", args, out)
		}
	}
	for _, j := range emu.Tencent.Jobs() {
		if !j.Deleted.IsZero() {
			t.Errorf("the dry run deleted backup %s", j.ID)
		}
	}
	if code, _, errs := run(t, getenvOS, "retention", "--instance", inst); code != ExitUsage || !strings.Contains(errs, "--dry-run") {
		t.Errorf("retention without --dry-run = %d, %q; want usage error", code, errs)
	}
}

// The retention simulation `make bench` runs, small: one line a night with
// its deletions and API calls, and the invariants' line.
func TestSimulateRetention(t *testing.T) {
	code, out, errs := run(t, getenvOS, "simulate", "--retention", "keep-last=3", "--instances", "4", "--nights", "6",
		"--faults", "0.1", "--duplicates", "0.1")
	if code != ExitOK {
		t.Fatalf("simulate --retention = %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"rule keep-last-3, share 0.50", "night  made  deleted", "over 6 nights: ",
		"deleted not backupflow's 0, deleted twice 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n") - 3; n != 6 {
		t.Errorf("%d night lines; want 6:\n%s", n, out)
	}
	if code, _, _ := run(t, getenvOS, "simulate", "--retention", "keep-days=x"); code != ExitUsage {
		t.Errorf("a bad rule exits %d; want %d", code, ExitUsage)
	}
}
