package retention_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

var now = time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)

const inst = "cdb-c1nl9rpv"

// night makes the ledger record and the cloud backup of backupflow's
// nightly job n nights ago.
func night(n int) (retention.Made, provider.CloudBackup) {
	id := job.NewID("nightly", fmt.Sprint(n), inst)
	at := now.Add(-time.Duration(n) * 24 * time.Hour)
	bid := fmt.Sprint(1000 - n)
	return retention.Made{JobID: id, Instance: inst, Name: job.Name(id), BackupID: bid, Finished: true, Succeeded: true, Created: at},
		provider.CloudBackup{ID: bid, Instance: inst, Name: job.Name(id), Manual: true, State: provider.Succeeded, Created: at.Add(time.Minute)}
}

func nights(ns ...int) ([]retention.Made, []provider.CloudBackup) {
	var made []retention.Made
	var cloud []provider.CloudBackup
	for _, n := range ns {
		m, b := night(n)
		made, cloud = append(made, m), append(cloud, b)
	}
	return made, cloud
}

// deleted lists the ids of the backups a plan deletes, oldest first.
func deleted(p retention.Plan) string {
	var ids []string
	for _, v := range p.Deletes() {
		ids = append(ids, v.Backup.ID)
	}
	return strings.Join(ids, ",")
}

func reasonOf(p retention.Plan, id string) string {
	for _, v := range p.Items {
		if v.Backup.ID == id {
			return v.Reason
		}
	}
	return "(not listed)"
}

func TestDecide(t *testing.T) {
	at := func(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }
	tests := []struct {
		name    string
		rule    retention.Rule
		edit    func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup)
		ns      []int
		want    string            // ids deleted, oldest first
		reasons map[string]string // id -> substring of its reason
	}{
		{name: "keep last 1 of 3", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1, 2}, want: "998,999",
			reasons: map[string]string{"1000": "newest"}},
		{name: "keep last 2 of 3", rule: retention.Rule{KeepLast: 2}, ns: []int{0, 1, 2}, want: "998",
			reasons: map[string]string{"999": "keep-last-2 (number 2)"}},
		{name: "keep 7 days", rule: retention.Rule{KeepDays: 7}, ns: []int{0, 3, 6, 8, 10}, want: "990,992",
			reasons: map[string]string{"994": "younger than 7 days"}},
		{name: "either rule keeps", rule: retention.Rule{KeepLast: 3, KeepDays: 2}, ns: []int{0, 1, 2, 3, 4}, want: "996,997"},
		{name: "no rule deletes nothing", ns: []int{0, 1, 2}, want: "", reasons: map[string]string{"998": "no retention rule"}},
		{name: "newest kept even by keep-1-day", rule: retention.Rule{KeepDays: 1}, ns: []int{5, 6}, want: "994",
			reasons: map[string]string{"995": "newest"}},
		{name: "one backup is never deleted", rule: retention.Rule{KeepDays: 1}, ns: []int{30}, want: ""},
		{name: "automatic backups are never touched", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				return made, append(cloud, provider.CloudBackup{ID: "a1", Instance: inst, Name: "", Manual: false, State: provider.Succeeded, Created: at(9)},
					// An automatic backup carrying a backupflow-looking name is still the cloud's.
					provider.CloudBackup{ID: "a2", Instance: inst, Name: made[1].Name, Manual: false, State: provider.Succeeded, Created: at(8)})
			}, want: "999", reasons: map[string]string{"a1": "automatic", "a2": "automatic"}},
		{name: "hand-made and other tools' backups are never touched", rule: retention.Rule{KeepLast: 1}, ns: []int{0},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				return made, append(cloud,
					provider.CloudBackup{ID: "h1", Instance: inst, Name: "before-upgrade", Manual: true, State: provider.Succeeded, Created: at(20)},
					provider.CloudBackup{ID: "t1", Instance: inst, Name: "shelvery-cdb-20261101", Manual: true, State: provider.Succeeded, Created: at(30)})
			}, want: "", reasons: map[string]string{"h1": "not made by backupflow", "t1": "not made by backupflow"}},
		{name: "look-alike names are never touched", rule: retention.Rule{KeepLast: 1}, ns: []int{0},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				other := job.Name(job.NewID("nightly", "x", inst))
				return made, append(cloud,
					// backupflow's shape, but no ledger job made it (another deployment, or a copy by hand).
					provider.CloudBackup{ID: "l1", Instance: inst, Name: other, Manual: true, State: provider.Succeeded, Created: at(10)},
					// a real job's name with a suffix.
					provider.CloudBackup{ID: "l2", Instance: inst, Name: made[0].Name + "-copy", Manual: true, State: provider.Succeeded, Created: at(11)},
					// a real job's name in another case.
					provider.CloudBackup{ID: "l3", Instance: inst, Name: strings.ToUpper(made[0].Name), Manual: true, State: provider.Succeeded, Created: at(12)})
			}, want: "", reasons: map[string]string{"l1": "not made by backupflow", "l2": "not made by backupflow", "l3": "not made by backupflow"}},
		{name: "a ledger job of another instance does not vouch", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				made[1].Instance = "cdb-other001"
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "not made by backupflow"}},
		{name: "a ledger record whose name is not its job's does not vouch", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				made[1].Name = "nightly-backup"
				cloud[1].Name = "nightly-backup"
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "not made by backupflow"}},
		{name: "the ledger's backup id must match", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				made[1].BackupID = "4242"
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "different backup"}},
		{name: "two backups under one name without an id are kept", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				made[1].BackupID = ""
				dup := cloud[1]
				dup.ID = "9999"
				return made, append(cloud, dup)
			}, want: "", reasons: map[string]string{"999": "several backups"}},
		{name: "a job the ledger does not record as successful is kept", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				made[1].Succeeded = false
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "does not record"}},
		{name: "failed and deleting backups are not candidates", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1, 2},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				cloud[1].State = provider.Failed
				cloud[2].Deleting = true
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "lists it failed", "998": "being deleted"}},
		{name: "tonight running: last night is not replaced yet", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1, 2},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				cloud[0].State = provider.Running
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "newest", "998": "not confirmed successful"}},
		{name: "tonight's job in flight, not listed yet", rule: retention.Rule{KeepLast: 1}, ns: []int{1, 2},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				id := job.NewID("nightly", "tonight", inst)
				return append(made, retention.Made{JobID: id, Instance: inst, Name: job.Name(id), Created: now}), cloud
			}, want: "", reasons: map[string]string{"998": "not confirmed successful"}},
		{name: "tonight failed: the older ones still count", rule: retention.Rule{KeepLast: 2}, ns: []int{0, 1, 2},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				made[0].Succeeded = false
				cloud[0].State = provider.Failed
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "newest", "998": "keep-last-2"}},
		{name: "another instance's backup in the listing", rule: retention.Rule{KeepLast: 1}, ns: []int{0, 1},
			edit: func(made []retention.Made, cloud []provider.CloudBackup) ([]retention.Made, []provider.CloudBackup) {
				cloud[1].Instance = "cdb-other001"
				return made, cloud
			}, want: "", reasons: map[string]string{"999": "another instance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			made, cloud := nights(tt.ns...)
			if tt.edit != nil {
				made, cloud = tt.edit(made, cloud)
			}
			p := retention.Decide(inst, tt.rule, made, cloud, now)
			if got := deleted(p); got != tt.want {
				t.Errorf("deleted %q; want %q\n%+v", got, tt.want, p.Items)
			}
			if len(p.Items) != len(cloud) {
				t.Errorf("%d verdicts for %d listed backups", len(p.Items), len(cloud))
			}
			for id, want := range tt.reasons {
				if got := reasonOf(p, id); !strings.Contains(got, want) {
					t.Errorf("reason for %s = %q; want it to say %q", id, got, want)
				}
			}
			for _, v := range p.Items {
				if v.Reason == "" {
					t.Errorf("backup %s has no reason", v.Backup.ID)
				}
			}
		})
	}
}

func TestCap(t *testing.T) {
	var plans []retention.Plan
	for i := range 4 {
		made, cloud := nights(0, 1, 2, 3)
		for j := range cloud {
			cloud[j].Instance = fmt.Sprintf("cdb-inst%04d", i)
			made[j].Instance = cloud[j].Instance
		}
		plans = append(plans, retention.Decide(cloud[0].Instance, retention.Rule{KeepLast: 1}, made, cloud, now))
	}
	// 16 backupflow backups, 12 selected; a quarter is 4.
	if withheld := retention.Cap(plans, 0.25); withheld != 8 {
		t.Errorf("Cap withheld %d; want 8", withheld)
	}
	n := 0
	for _, p := range plans {
		for _, v := range p.Items {
			if v.Delete {
				n++
				if v.Backup.ID != "997" {
					t.Errorf("cap kept an older backup than %s: deletes %s first", v.Backup.ID, "997")
				}
			} else if v.Backup.ID != "1000" && !strings.Contains(v.Reason, "cap") {
				t.Errorf("backup %s kept for %q; want the cap", v.Backup.ID, v.Reason)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d deletions after the cap; want 4", n)
	}
	if withheld := retention.Cap(plans, 1); withheld != 0 {
		t.Errorf("a second Cap at 100%% withheld %d", withheld)
	}
}

func TestRuleValidate(t *testing.T) {
	if err := (retention.Rule{KeepLast: -1}).Validate(); err == nil {
		t.Error("keepLast -1 accepted")
	}
	if err := (retention.Rule{KeepLast: 3, KeepDays: 30}).Validate(); err != nil {
		t.Error(err)
	}
	if got := (retention.Rule{KeepLast: 3, KeepDays: 30}).String(); got != "keep-last-3+keep-30d" {
		t.Errorf("String = %q", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want retention.Rule
		ok   bool
	}{
		{"", retention.Rule{}, true},
		{"none", retention.Rule{}, true},
		{"keep-last=7", retention.Rule{KeepLast: 7}, true},
		{"keep-days=30, keep-last=3", retention.Rule{KeepLast: 3, KeepDays: 30}, true},
		{"keep-last=0", retention.Rule{}, false},
		{"keep-last=-1", retention.Rule{}, false},
		{"keep=3", retention.Rule{}, false},
		{"7", retention.Rule{}, false},
	}
	for _, tt := range tests {
		got, err := retention.Parse(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
