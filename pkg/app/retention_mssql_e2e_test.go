package app_test

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/job"
)

// Only what it made, on SQL Server: an emulator instance holds the cloud's
// scheduled backup, one made by hand, two whose names only look like the
// name backupflow gives night 1's job, and one carrying a backupflow name
// that no job in this ledger made. Three nights of keep-last-1 with
// deletion on remove exactly backupflow's two older backups, one
// RemoveBackups call each; everything else stays.
func TestEndToEnd_RetentionSQLServerOnlyWhatItMade(t *testing.T) {
	if testing.Short() {
		t.Skip("three nights of virtual time")
	}
	const inst = "mssql-i1z41iwd"
	s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none",
		"BACKUPFLOW_PRODUCTS": "sqlserver", "BACKUPFLOW_RETENTION": "keep-last=1", "BACKUPFLOW_RETENTION_SHARE": "1",
		"BACKUPFLOW_RETENTION_DELETE": "true"})
	night1 := job.Name(job.NewID("nightly", job.Slot(s.clk.Now()), inst))
	past := s.clk.Now().Add(-10 * 24 * time.Hour)
	others := map[string]string{} // id → what it is
	for i, b := range []struct{ name, what string }{
		{"", "the cloud's scheduled backup"},
		{"before-upgrade", "a backup made by hand"},
		{night1 + "-copy", "a look-alike of night 1's name"},
		{strings.ToUpper(night1), "night 1's name in upper case"},
		{job.Name(job.NewID("nightly", "19990101T0000Z", inst)), "a backupflow name no job in this ledger made"},
	} {
		id, err := s.emu.Tencent.SeedBackup(inst, b.name, b.name == "", past.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		others[id] = b.what
	}
	for range 3 {
		timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
		s.invoke(s.create, timer)
		run := "nightly-" + job.Slot(s.clk.Now())
		s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "Retention after "+run) })
		s.clk.Advance(21 * time.Hour)
	}
	jobs := s.emu.Tencent.Jobs()
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Created.Before(jobs[j].Created) })
	var ours, deleted []string
	for _, j := range jobs {
		if _, other := others[j.ID]; other {
			if !j.Deleted.IsZero() {
				t.Errorf("%s (%s, %q) was deleted", j.ID, others[j.ID], j.Name)
			}
			continue
		}
		ours = append(ours, j.Name)
		if !j.Deleted.IsZero() {
			deleted = append(deleted, j.Name)
		}
	}
	if len(ours) != 3 || ours[0] != night1 {
		t.Fatalf("backupflow's backups %v; want three, night 1's named %s", ours, night1)
	}
	if !slices.Equal(deleted, ours[:2]) {
		t.Errorf("deleted %v; want backupflow's two older backups %v", deleted, ours[:2])
	}
	if n := s.emu.Tencent.Calls("sqlserver", "RemoveBackups"); n != 2 {
		t.Errorf("%d RemoveBackups calls; want 2 (one per expired backup)", n)
	}
	if out := s.out.String(); strings.Count(out, "Retention after ") != 3 {
		t.Errorf("want one retention notice per night:\n%s", out)
	}
}

// Chat `retention <instance>` previews a SQL Server instance too (the
// chatops role lists its backups): backupflow's older backup would be
// deleted, the scheduled one is kept.
func TestEndToEnd_ChatRetentionPreviewSQLServer(t *testing.T) {
	const inst = "mssql-i1z41iwd"
	s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none",
		"BACKUPFLOW_PRODUCTS": "sqlserver", "BACKUPFLOW_RETENTION": "keep-last=1"})
	if _, err := s.emu.Tencent.SeedBackup(inst, "", true, s.clk.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for range 2 {
		names = append(names, job.Name(job.NewID("nightly", job.Slot(s.clk.Now()), inst)))
		timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
		s.invoke(s.create, timer)
		run := "nightly-" + job.Slot(s.clk.Now())
		s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "Retention after "+run) })
		s.clk.Advance(21 * time.Hour)
	}
	h, err := chatapp.New(s.app, chatopstest.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{ID: "m-ret-mssql", Text: "retention " + inst}, s.clk.Now()))
	var answer struct{ Text string }
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("chat answer %q: %v", rec.Body.String(), err)
	}
	body := answer.Text
	for _, want := range []string{"Retention of " + inst + " (rule keep-last-1; report only", "1 of 3 backups would be deleted",
		names[0] + " ", "(automatic)"} {
		if !strings.Contains(body, want) {
			t.Errorf("chat preview lacks %q:\n%s", want, body)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, names[0]) && !strings.HasPrefix(line, "delete ") ||
			strings.Contains(line, names[1]) && !strings.HasPrefix(line, "keep ") {
			t.Errorf("preview line %q: want night 1's backup deleted and night 2's kept", line)
		}
	}
}
