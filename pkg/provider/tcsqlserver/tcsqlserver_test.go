package tcsqlserver

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

const srcURL = "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/orders.bak?q-sign-algorithm=sha1&q-signature=deadbeef"

func backupSpec(name string, dbs ...string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.SQLServer, InstanceID: "mssql-i1z41iwd", Name: name, Databases: dbs}
}

func importSpec(name string) provider.Spec {
	return provider.Spec{Op: provider.Import, Product: provider.SQLServer, InstanceID: "mssql-rdc0gajn", Name: name, SourceURL: srcURL}
}

func TestParseRef(t *testing.T) {
	cases := []struct {
		ref  provider.Ref
		want ParsedRef
		fail bool
	}{
		{ref: "flow/5293", want: ParsedRef{Kind: "flow", ID: 5293}},
		{ref: "backup/77", want: ParsedRef{Kind: "backup", ID: 77}},
		{ref: "migration/mssql-backup-migration-kpl74n9l", want: ParsedRef{Kind: "migration", MigrationID: "mssql-backup-migration-kpl74n9l"}},
		{ref: "migration/m-1/flow/1001399", want: ParsedRef{Kind: "migration", MigrationID: "m-1", FlowID: 1001399}},
		{ref: "migration/m-1/flow/0", fail: true},
		{ref: "migration/m-1/step/3", fail: true},
		{ref: "migration/", fail: true},
		{ref: "migration/a b", fail: true},
		{ref: "flow/0", fail: true},
		{ref: "flow/x", fail: true},
		{ref: "async/3", fail: true},
		{ref: "", fail: true},
	}
	for _, tc := range cases {
		got, err := ParseRef(tc.ref)
		if tc.fail {
			if !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("ParseRef(%q) = %+v, %v; want invalid input", tc.ref, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.ref, got, err, tc.want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"flow/1", "backup/2", "migration/m-1", "migration/m/flow/3", "migration//flow/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(provider.Ref(s))
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("ParseRef(%q) = %+v, renders as %q", s, r, r.String())
		}
	})
}

func TestStates(t *testing.T) {
	flows := map[int64]provider.State{0: provider.Succeeded, 1: provider.Failed, 2: provider.Running, 3: provider.Failed, -1: provider.Failed}
	for in, want := range flows {
		if got, detail := FlowState(in); got != want || (got == provider.Failed && detail == "") {
			t.Errorf("FlowState(%d) = %v %q; want %v with a detail on failure", in, got, detail, want)
		}
	}
	if _, d := FlowState(5); d != "unexpected flow status 5" {
		t.Errorf("FlowState(5) detail = %q", d)
	}
	backups := map[int64]provider.State{0: provider.Running, 1: provider.Succeeded, 2: provider.Failed, 9: provider.Failed}
	for in, want := range backups {
		if got, _ := BackupState(in); got != want {
			t.Errorf("BackupState(%d) = %v; want %v", in, got, want)
		}
	}
	migs := map[int64]provider.State{2: provider.Running, 7: provider.Running, 12: provider.Running, 8: provider.Succeeded,
		9: provider.Succeeded, 10: provider.Failed, 4: provider.Failed}
	for in, want := range migs {
		if got, _ := MigrationState(in, ""); got != want {
			t.Errorf("MigrationState(%d) = %v; want %v", in, got, want)
		}
	}
	if _, d := MigrationState(10, "bak file is corrupt"); d != "bak file is corrupt" {
		t.Errorf("MigrationState(10) detail = %q; want the cloud's Message", d)
	}
}

func TestStartBackupRequest(t *testing.T) {
	f, c := newFake(t, map[string]func([]byte) any{
		"CreateBackup": func([]byte) any { return map[string]any{"FlowId": 5293} },
	})
	p := New(c, Options{})
	ctx := context.Background()
	if ref, err := p.Start(ctx, backupSpec("n1", "db1", "db2")); err != nil || ref != "flow/5293" {
		t.Fatalf("Start = %q, %v", ref, err)
	}
	if ref, err := p.Start(ctx, backupSpec("n2")); err != nil || ref != "flow/5293" {
		t.Fatalf("Start = %q, %v", ref, err)
	}
	calls := f.Calls()
	want := []map[string]any{
		{"Strategy": 1.0, "DBNames": []any{"db1", "db2"}, "InstanceId": "mssql-i1z41iwd", "BackupName": "n1", "StorageStrategy": 0.0},
		{"Strategy": 0.0, "InstanceId": "mssql-i1z41iwd", "BackupName": "n2", "StorageStrategy": 0.0},
	}
	for i := range want {
		if !reflect.DeepEqual(calls[i].Body, want[i]) {
			t.Errorf("CreateBackup body %d = %v; want %v", i, calls[i].Body, want[i])
		}
	}
}

func TestFindBackupWindowAndPages(t *testing.T) {
	var reqs []DescribeBackupsRequest
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeBackups": func(body []byte) any {
			var req DescribeBackupsRequest
			_ = json.Unmarshal(body, &req)
			reqs = append(reqs, req)
			// Offset is a page number: page 0 has a fuzzy-name neighbour,
			// page 1 the exact match, page 2 is empty.
			pages := [][]Backup{
				{{Id: 5, BackupName: "nightly-10", Status: 1}, {Id: 6, BackupName: "nightly-1", Status: 1}},
				{{Id: 9, BackupName: "nightly-1", Status: 0}},
			}
			if int(req.Offset) >= len(pages) {
				return DescribeBackupsResponse{TotalCount: 3}
			}
			return DescribeBackupsResponse{TotalCount: 3, Backups: pages[req.Offset]}
		},
	})
	now := time.Date(2026, 3, 10, 1, 30, 0, 0, time.UTC)
	p := New(c, Options{Now: func() time.Time { return now }})
	ref, found, err := p.Find(context.Background(), backupSpec("nightly-1"))
	if err != nil || !found || ref != "backup/9" {
		t.Fatalf("Find = %q, %v, %v; want backup/9", ref, found, err)
	}
	if len(reqs) != 2 || reqs[0].Offset != 0 || reqs[1].Offset != 1 {
		t.Fatalf("requests = %+v; want pages 0 and 1", reqs)
	}
	r := reqs[0]
	if r.StartTime != "2026-03-02 09:30:00" || r.EndTime != "2026-03-10 10:30:00" || r.BackupName != "nightly-1" ||
		r.BackupWay == nil || *r.BackupWay != 1 || r.InstanceId != "mssql-i1z41iwd" {
		t.Errorf("request = %+v; want an 8-day window in UTC+8, the name and BackupWay 1", r)
	}
}

func TestImportStart(t *testing.T) {
	cases := []struct {
		name     string
		existing []Migration
		actions  []string
		ref      provider.Ref
	}{
		{"new", nil, []string{"DescribeBackupMigration", "CreateBackupMigration", "StartBackupMigration"},
			"migration/mssql-backup-migration-new00001/flow/1001399"},
		{"created earlier, not started", []Migration{{MigrationId: "mssql-backup-migration-old00001", MigrationName: "imp-1", Status: 2}},
			[]string{"DescribeBackupMigration", "ModifyBackupMigration", "StartBackupMigration"},
			"migration/mssql-backup-migration-old00001/flow/1001399"},
		{"already running", []Migration{{MigrationId: "mssql-backup-migration-old00001", MigrationName: "imp-1", Status: 7}},
			[]string{"DescribeBackupMigration"}, "migration/mssql-backup-migration-old00001"},
		{"name prefix only", []Migration{{MigrationId: "mssql-backup-migration-old00001", MigrationName: "imp-10", Status: 7}},
			[]string{"DescribeBackupMigration", "CreateBackupMigration", "StartBackupMigration"},
			"migration/mssql-backup-migration-new00001/flow/1001399"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t, map[string]func([]byte) any{
				"DescribeBackupMigration": func([]byte) any {
					return DescribeBackupMigrationResponse{TotalCount: int64(len(tc.existing)), BackupMigrationSet: tc.existing}
				},
				"CreateBackupMigration": func([]byte) any {
					return map[string]any{"BackupMigrationId": "mssql-backup-migration-new00001"}
				},
				"ModifyBackupMigration": func([]byte) any { return map[string]any{"BackupMigrationId": "x"} },
				"StartBackupMigration":  func([]byte) any { return map[string]any{"FlowId": 1001399} },
			})
			ref, err := New(c, Options{}).Start(context.Background(), importSpec("imp-1"))
			if err != nil || ref != tc.ref {
				t.Fatalf("Start = %q, %v; want %q", ref, err, tc.ref)
			}
			var got []string
			for _, call := range f.Calls() {
				got = append(got, call.Action)
				switch call.Action {
				case "DescribeBackupMigration":
					if call.Body["MigrationName"] != "imp-1" || call.Body["InstanceId"] != "mssql-rdc0gajn" {
						t.Errorf("DescribeBackupMigration body = %v", call.Body)
					}
				case "CreateBackupMigration":
					want := map[string]any{"InstanceId": "mssql-rdc0gajn", "RecoveryType": "FULL", "UploadType": "COS_URL",
						"MigrationName": "imp-1", "BackupFiles": []any{srcURL}}
					if !reflect.DeepEqual(call.Body, want) {
						t.Errorf("CreateBackupMigration body = %v; want %v", call.Body, want)
					}
				case "ModifyBackupMigration":
					if !reflect.DeepEqual(call.Body["BackupFiles"], []any{srcURL}) {
						t.Errorf("ModifyBackupMigration body = %v; want the fresh URL", call.Body)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.actions) {
				t.Errorf("actions = %v; want %v", got, tc.actions)
			}
		})
	}
}

func TestImportErrorNeverHoldsTheURL(t *testing.T) {
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeBackupMigration": func([]byte) any { return DescribeBackupMigrationResponse{} },
		"CreateBackupMigration": func([]byte) any {
			return cloudError{Code: "InvalidParameter.InputIllegal", Message: "cannot read " + srcURL}
		},
	})
	_, err := New(c, Options{}).Start(context.Background(), importSpec("imp-1"))
	if err == nil {
		t.Fatal("Start succeeded; want the cloud's error")
	}
	if msg := err.Error(); strings.Contains(msg, "q-signature") || strings.Contains(msg, srcURL) {
		t.Errorf("error leaks the presigned URL: %s", msg)
	}
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidParameter.InputIllegal" || ae.RequestID == "" || strings.Contains(ae.Message, "q-signature") {
		t.Errorf("err = %#v; want the cloud code and request id, redacted", ae)
	}
	if !strings.HasPrefix(err.Error(), "tcsqlserver: create import \"imp-1\" on mssql-rdc0gajn: ") {
		t.Errorf("error lost its context: %s", err)
	}
}

func TestImportStatus(t *testing.T) {
	cases := []struct {
		name   string
		status int64
		flow   int64
		ref    provider.Ref
		want   provider.State
		detail string
	}{
		{"running", 7, 2, "migration/m-1/flow/8", provider.Running, ""},
		{"running, flow failed", 7, 1, "migration/m-1/flow/8", provider.Failed, "flow failed: halfway"},
		{"running, no flow known", 7, 1, "migration/m-1", provider.Running, ""},
		{"succeeded", 9, 0, "migration/m-1/flow/8", provider.Succeeded, ""},
		{"failed", 10, 1, "migration/m-1/flow/8", provider.Failed, "halfway"},
		{"gone", -1, 0, "migration/m-1", provider.Failed, "import task is no longer listed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newFake(t, map[string]func([]byte) any{
				"DescribeBackupMigration": func([]byte) any {
					if tc.status < 0 {
						return DescribeBackupMigrationResponse{}
					}
					return DescribeBackupMigrationResponse{TotalCount: 1, BackupMigrationSet: []Migration{
						{MigrationId: "m-1", MigrationName: "imp-1", Status: tc.status, Message: "halfway", Detail: &MigrationDetail{Progress: 50}}}}
				},
				"DescribeFlowStatus": func([]byte) any { return map[string]any{"Status": tc.flow} },
			})
			s := importSpec("imp-1")
			s.SourceURL = "" // the polling step never has it
			st, err := New(c, Options{}).Status(context.Background(), s, tc.ref)
			if err != nil || st.State != tc.want || st.Detail != tc.detail {
				t.Errorf("Status = %+v, %v; want %v %q", st, err, tc.want, tc.detail)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	tag := func(v string) []ResourceTag { return []ResourceTag{{TagKey: "backupflow", TagValue: v}} }
	pages := [][]DBInstance{
		{{InstanceId: "mssql-run00001", Name: "a", Status: 2, InstanceType: "HA", ResourceTags: tag("nightly")},
			{InstanceId: "mssql-wk000001", Status: 2, ResourceTags: tag("weekly")}},
		{{InstanceId: "mssql-new00001", Status: 1, ResourceTags: tag("nightly")},
			{InstanceId: "mssql-ro000001", Status: 2, InstanceType: "RO", ResourceTags: tag("nightly")}},
		{{InstanceId: "mssql-bsy00001", Status: 7, ResourceTags: tag("nightly")}},
	}
	var offsets []int64
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeDBInstances": func(body []byte) any {
			var req DescribeDBInstancesRequest
			_ = json.Unmarshal(body, &req)
			if !reflect.DeepEqual(req.TagKeys, []string{"backupflow"}) {
				return cloudError{Code: "InvalidParameter", Message: "want TagKeys"}
			}
			offsets = append(offsets, req.Offset)
			if int(req.Offset) >= len(pages) {
				return DescribeDBInstancesResponse{TotalCount: 5}
			}
			return DescribeDBInstancesResponse{TotalCount: 5, DBInstances: pages[req.Offset]}
		},
	})
	got, err := New(c, Options{Region: "ap-guangzhou"}).Discover(context.Background(), "backupflow", "nightly")
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Instance{
		{Product: provider.SQLServer, Region: "ap-guangzhou", InstanceID: "mssql-run00001", Name: "a", Eligible: true},
		{Product: provider.SQLServer, Region: "ap-guangzhou", InstanceID: "mssql-new00001", Reason: "creating"},
		{Product: provider.SQLServer, Region: "ap-guangzhou", InstanceID: "mssql-ro000001", Reason: "read-only replica"},
		{Product: provider.SQLServer, Region: "ap-guangzhou", InstanceID: "mssql-bsy00001", Reason: "running a task"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover =\n%+v\nwant\n%+v", got, want)
	}
	if !reflect.DeepEqual(offsets, []int64{0, 1, 2}) {
		t.Errorf("offsets = %v; want page numbers 0, 1, 2", offsets)
	}
}

// DescribeBackups during a poll may answer FailedOperation.CosError (the
// object store hiccupped, per the SDK's error list): check again later.
func TestPollCosErrorRetriesLater(t *testing.T) {
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeBackups": func([]byte) any { return cloudError{Code: "FailedOperation.CosError", Message: "cos error"} },
	})
	_, err := New(c, Options{}).Status(context.Background(), backupSpec("n1"), "backup/3900001")
	if apierr.Code(err) != "FailedOperation.CosError" || apierr.KindOf(err) != apierr.RetryLater {
		t.Errorf("err = %v (kind %v); want FailedOperation.CosError, retry-later", err, apierr.KindOf(err))
	}
}
