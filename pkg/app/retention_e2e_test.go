package app_test

import (
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

// The deployed retention step over CMQ and the emulator: each nightly run
// (its timer delivered twice) is followed by retention once the run's
// summary is sent. Report-only by default: it says how many backups it
// would expire and deletes none. With BACKUPFLOW_RETENTION_DELETE=true it
// deletes exactly the backupflow backups beyond keep-last-2, oldest first,
// once each, and never the cloud's automatic backup, one made by hand, or
// one whose name only looks like backupflow's.
func TestEndToEnd_RetentionAfterNightly(t *testing.T) {
	if testing.Short() {
		t.Skip("four nights of virtual time")
	}
	const inst = "cdb-c1nl9rpv"
	for _, tc := range []struct {
		name   string
		delete string
	}{{"report only", ""}, {"deleting", "true"}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none",
				"BACKUPFLOW_PRODUCTS": "mysql", "BACKUPFLOW_RETENTION": "keep-last=2", "BACKUPFLOW_RETENTION_DELETE": tc.delete})
			past := s.clk.Now().Add(-30 * 24 * time.Hour)
			keep := map[string]bool{}
			for i, name := range []string{"", "before-upgrade", job.Name(job.NewID("nightly", "19990101T0000Z", inst))} {
				id, err := s.emu.Tencent.SeedBackup(inst, name, i == 0, past.Add(time.Duration(i)*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				keep[id] = true
			}
			for night := 1; night <= 4; night++ {
				timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
				s.invoke(s.create, timer)
				s.invoke(s.create, timer) // the platform's duplicate
				run := "nightly-" + job.Slot(s.clk.Now())
				s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "Retention after "+run) })
				s.clk.Advance(24*time.Hour - 3*time.Hour)
			}
			out := s.out.String()
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "Retention") {
					t.Log(line)
				}
			}
			var ours []string
			deleted := map[string]int{}
			jobs := s.emu.Tencent.Jobs()
			sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Created.Before(jobs[j].Created) })
			for _, j := range jobs {
				if !keep[j.ID] {
					ours = append(ours, j.ID)
				}
				if !j.Deleted.IsZero() {
					deleted[j.ID]++
				}
			}
			if len(ours) != 4 {
				t.Fatalf("%d backupflow backups after four nights; want 4 (one per night, duplicates dropped)", len(ours))
			}
			for id := range keep {
				if deleted[id] > 0 {
					t.Errorf("backup %s, not backupflow's, was deleted", id)
				}
			}
			if n := strings.Count(out, "Retention after "); n != 4 {
				t.Errorf("%d retention notices; want one per night:\n%s", n, out)
			}
			if tc.delete == "" {
				if len(deleted) != 0 {
					t.Errorf("report-only retention deleted %v", deleted)
				}
				for _, want := range []string{"(report only): 0 backupflow backups would be expired", "(report only): 1 backupflow backups would be expired",
					"(report only): 2 backupflow backups would be expired"} {
					if !strings.Contains(out, want) {
						t.Errorf("no notice %q:\n%s", want, out)
					}
				}
				return
			}
			var gone []string
			for id := range deleted {
				gone = append(gone, id)
			}
			slices.Sort(gone)
			want := append([]string(nil), ours[:2]...)
			slices.Sort(want)
			if !slices.Equal(gone, want) {
				t.Errorf("deleted %v; want the two oldest backupflow backups %v", gone, want)
			}
			if calls := s.emu.Tencent.Calls("cdb", "DeleteBackup"); calls != 2 {
				t.Errorf("%d DeleteBackup calls; want 2 (one per expired backup)", calls)
			}
			if n := strings.Count(out, "backupflow backups expired"); n != 4 || !strings.Contains(out, ": 1 backupflow backups expired") {
				t.Errorf("retention notices:\n%s", out)
			}
		})
	}
}

// Chat `retention <instance>` previews, through the deployed chat
// constructor over the emulator, what the configured rule would expire.
func TestEndToEnd_ChatRetentionPreview(t *testing.T) {
	const inst = "cdb-c1nl9rpv"
	s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none",
		"BACKUPFLOW_PRODUCTS": "mysql", "BACKUPFLOW_RETENTION": "keep-last=1"})
	auto, err := s.emu.Tencent.SeedBackup(inst, "", true, s.clk.Now().Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
		s.invoke(s.create, timer)
		run := "nightly-" + job.Slot(s.clk.Now())
		s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "Retention after "+run) })
		s.clk.Advance(21 * time.Hour)
	}
	var first string
	for _, j := range s.emu.Tencent.Jobs() {
		if j.ID != auto && (first == "" || j.Created.Before(s.firstCreated(first))) {
			first = j.ID
		}
	}
	h, err := chatapp.New(s.app, chatopstest.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{ID: "m-ret", Text: "retention " + inst}, s.clk.Now()))
	body := rec.Body.String()
	for _, want := range []string{"Retention of " + inst + " (rule keep-last-1; report only", "1 of 3 backups would be deleted",
		"delete " + first + " backupflow-", "keep " + auto + " (automatic)"} {
		if !strings.Contains(body, want) {
			t.Errorf("chat preview lacks %q:\n%s", want, body)
		}
	}
}

func (s *stack) firstCreated(id string) time.Time {
	for _, j := range s.emu.Tencent.Jobs() {
		if j.ID == id {
			return j.Created
		}
	}
	return time.Time{}
}

// A delete whose answer is a server fault (it may or may not have landed)
// is retried on the same backup, and the backup is deleted once; a
// backup the ledger records as deleted — by a step that crashed before
// the cloud stopped listing it — is never asked to be deleted again.
func TestEndToEnd_RetentionFaultAndCrashRecords(t *testing.T) {
	const inst = "cdb-c1nl9rpv"
	s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none",
		"BACKUPFLOW_PRODUCTS": "mysql", "BACKUPFLOW_RETENTION": "keep-last=1", "BACKUPFLOW_RETENTION_SHARE": "1",
		"BACKUPFLOW_RETENTION_DELETE": "true"})
	night := func() {
		timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
		s.invoke(s.create, timer)
		run := "nightly-" + job.Slot(s.clk.Now())
		s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "Retention after "+run) })
		s.clk.Advance(21 * time.Hour)
	}
	night()
	jobs := s.emu.Tencent.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d backups after night 1", len(jobs))
	}
	first := jobs[0].ID
	night()
	// Night 2 deleted night 1's backup. Night 3 starts with a fault.
	s.emu.Tencent.InjectError("cdb", "DeleteBackup", "InternalError", "injected server fault")
	night()
	deleted := 0
	for _, j := range s.emu.Tencent.Jobs() {
		if !j.Deleted.IsZero() {
			deleted++
		}
	}
	if deleted != 2 {
		t.Errorf("%d backups deleted after three nights of keep-last-1; want 2", deleted)
	}
	// The fault was answered (injected answers are not counted as calls
	// that reached the handler): one call on night 2, the retry on night 3.
	if n := s.emu.Tencent.PendingInjected("cdb", "DeleteBackup"); n != 0 {
		t.Errorf("the injected fault was never met (%d pending)", n)
	}
	if calls := s.emu.Tencent.Calls("cdb", "DeleteBackup"); calls != 2 {
		t.Errorf("%d DeleteBackup calls reached the cloud; want 2", calls)
	}
	b, ok, err := s.app.Ledger.Get(t.Context(), "retention/deleted/"+inst+"/"+first)
	if err != nil || !ok || !strings.Contains(string(b), `"state":"deleted"`) {
		t.Errorf("deletion record of %s = %s, %v, %v; want state deleted", first, b, ok, err)
	}
	// A step that deleted a backup and crashed leaves its "deleted" record
	// while the cloud may still list the backup: night 4 would select
	// night 3's backup, but the record keeps it from a second delete call.
	var newest string
	for _, j := range s.emu.Tencent.Jobs() {
		if j.Deleted.IsZero() {
			newest = j.ID
		}
	}
	rec := `{"state":"deleted","instance":"` + inst + `","backup":"` + newest + `","run":"crashed"}`
	if err := s.app.Ledger.Put(t.Context(), "retention/deleted/"+inst+"/"+newest, []byte(rec)); err != nil {
		t.Fatal(err)
	}
	night()
	if calls := s.emu.Tencent.Calls("cdb", "DeleteBackup"); calls != 2 {
		t.Errorf("%d DeleteBackup calls after night 4; want still 2: a backup recorded deleted was deleted again", calls)
	}
}

// The run's expiries reach the team in the mode both descriptors deploy
// (BACKUPFLOW_NOTIFY_MODE=failures): the retention notice follows the
// nightly summary's rule, sent with the heartbeat and held back with it,
// so the all-OK heartbeat is always followed by what retention did.
func TestEndToEnd_RetentionNoticeFollowsTheSummaryRule(t *testing.T) {
	const inst = "cdb-c1nl9rpv"
	for _, tc := range []struct {
		name, heartbeat string
		want            bool
	}{{"failures with heartbeat (deployed)", "true", true}, {"failures without heartbeat", "false", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none",
				"BACKUPFLOW_PRODUCTS": "mysql", "BACKUPFLOW_RETENTION": "keep-last=1", "BACKUPFLOW_RETENTION_SHARE": "1",
				"BACKUPFLOW_RETENTION_DELETE": "true", "BACKUPFLOW_NOTIFY_MODE": "failures", "BACKUPFLOW_NOTIFY_HEARTBEAT": tc.heartbeat})
			for range 2 {
				timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
				s.invoke(s.create, timer)
				run := "nightly-" + job.Slot(s.clk.Now())
				s.runFor(3*time.Hour, func() bool {
					_, ok, _ := s.app.Ledger.Get(t.Context(), "retention/runs/"+run+"/notice")
					return ok
				})
				s.clk.Advance(21 * time.Hour)
			}
			deleted := 0
			for _, j := range s.emu.Tencent.Jobs() {
				if !j.Deleted.IsZero() {
					deleted++
				}
			}
			if deleted != 1 {
				t.Fatalf("%d backups deleted after two nights of keep-last-1; want 1", deleted)
			}
			out := s.out.String()
			got := strings.Contains(out, ": 1 backupflow backups expired") && strings.Contains(out, "MiB freed")
			if got != tc.want {
				t.Errorf("retention notice with the count and the space freed sent = %v; want %v:\n%s", got, tc.want, out)
			}
			if n := strings.Count(out, "Retention after "); tc.want && n != 2 || !tc.want && n != 0 {
				t.Errorf("%d retention notices; want %v:\n%s", n, tc.want, out)
			}
		})
	}
}
