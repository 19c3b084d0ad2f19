package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// MongoDB lists only a week of backups, so retention there is the cloud's
// own expiry: a MongoDB backup is created with BackupRetentionDays from the
// target's retention rule when the rule keeps by age alone, through the
// deployed constructor, for the nightly run and for a one-off backup. An
// explicit retentionDays wins; a rule with keep-last (not expressible as
// days) leaves the instance's configured days (none sent).
func TestEndToEnd_MongoRetentionDaysFromTheRule(t *testing.T) {
	const inst = "cmgo-ayxpky6l"
	for _, tc := range []struct {
		name, targets, rule string
		want                string // the job's setting; "" for none
	}{
		{"keep-days", inst, "keep-days=14", "BackupRetentionDays=14"},
		{"keep-last", inst, "keep-last=3", ""},
		{"keep-last and keep-days", inst, "keep-last=3,keep-days=14", ""},
		{"no rule", inst, "", ""},
		{"the target's rule", `[{"instance":"` + inst + `","retention":{"keepDays":9}}]`, "keep-last=3", "BackupRetentionDays=9"},
		{"explicit retentionDays", `[{"instance":"` + inst + `","retentionDays":30}]`, "keep-days=14", "BackupRetentionDays=30"},
		{"beyond the API's range", inst, "keep-days=9000", "BackupRetentionDays=7300"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": tc.targets, "BACKUPFLOW_DISCOVER_TAG": "none",
				"BACKUPFLOW_PRODUCTS": "mongodb", "BACKUPFLOW_RETENTION": tc.rule})
			timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
			s.invoke(s.create, timer)
			run := "nightly-" + job.Slot(s.clk.Now())
			s.runFor(time.Hour, func() bool { return strings.Contains(s.out.String(), run+": 1 job succeeded") })
			if _, err := s.app.Service.Enqueue(context.Background(), flow.Request{ID: []string{"one-off", tc.name}, Op: provider.Backup,
				Instance: inst, Origin: job.Origin{Source: "cli"}}); err != nil {
				t.Fatal(err)
			}
			s.runFor(time.Hour, func() bool { return len(s.emu.Tencent.Jobs()) == 2 })
			jobs := s.emu.Tencent.Jobs()
			if len(jobs) != 2 {
				t.Fatalf("%d MongoDB backups; want the nightly one and the one-off: %+v", len(jobs), jobs)
			}
			for _, j := range jobs {
				got := ""
				if i := slices.IndexFunc(j.Settings, func(v string) bool { return strings.HasPrefix(v, "BackupRetentionDays=") }); i >= 0 {
					got = j.Settings[i]
				}
				if got != tc.want {
					t.Errorf("backup %s (%s) created with %q; want %q", j.ID, j.Name, got, tc.want)
				}
			}
		})
	}
}
