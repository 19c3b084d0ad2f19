package tcmysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

func spec(name string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: name}
}

func TestMethod(t *testing.T) {
	tables := []provider.Table{{DB: "db1", Table: "tb1"}}
	cases := []struct {
		method string
		tables []provider.Table
		want   string
	}{
		{"", nil, "physical"},
		{"", tables, "logical"},
		{"snapshot", nil, "snapshot"},
		{"logical", nil, "logical"},
	}
	for _, tc := range cases {
		s := spec("n")
		s.Method, s.Tables = tc.method, tc.tables
		if got := Method(s); got != tc.want {
			t.Errorf("Method(%q, %v) = %q; want %q", tc.method, tc.tables, got, tc.want)
		}
	}
}

func TestParseRef(t *testing.T) {
	cases := []struct {
		ref  provider.Ref
		id   int64
		fail bool
	}{
		{"backup/102996666", 102996666, false},
		{"backup/0", 0, true},
		{"backup/-3", 0, true},
		{"backup/+3", 0, true},
		{"backup/", 0, true},
		{"flow/12", 0, true},
		{"backup/12x", 0, true},
		{"", 0, true},
	}
	for _, tc := range cases {
		id, err := ParseRef(tc.ref)
		if tc.fail {
			if !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("ParseRef(%q) err = %v; want invalid input", tc.ref, err)
			}
			continue
		}
		if err != nil || id != tc.id {
			t.Errorf("ParseRef(%q) = %d, %v; want %d", tc.ref, id, err, tc.id)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"backup/1", "backup/", "backup/99999999999999999999", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRef(provider.Ref(s))
		if err != nil {
			return
		}
		if id <= 0 || Ref(id) != provider.Ref(s) {
			t.Fatalf("ParseRef(%q) = %d, which does not round-trip", s, id)
		}
	})
}

func TestStartRequest(t *testing.T) {
	f, c := newFake(t, map[string]func([]byte) any{
		"CreateBackup": func([]byte) any { return map[string]any{"BackupId": 102996666} },
	})
	p := New(c, Options{Region: "ap-guangzhou"})
	s := spec("nightly-1")
	s.Tables = []provider.Table{{DB: "db1", Table: "tb1"}, {DB: "db2"}}
	ref, err := p.Start(context.Background(), s)
	if err != nil || ref != "backup/102996666" {
		t.Fatalf("Start = %q, %v", ref, err)
	}
	got := f.Calls()[0].Body
	want := map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "logical", "ManualBackupName": "nightly-1",
		"BackupDBTableList": []any{map[string]any{"Db": "db1", "Table": "tb1"}, map[string]any{"Db": "db2"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CreateBackup body = %v; want %v", got, want)
	}
}

// backupsHandler serves items with row-offset paging, as cdb does.
func backupsHandler(items []BackupInfo) func([]byte) any {
	return func(body []byte) any {
		var req DescribeBackupsRequest
		_ = json.Unmarshal(body, &req)
		lo := min(int(req.Offset), len(items))
		hi := min(lo+int(req.Limit), len(items))
		return DescribeBackupsResponse{TotalCount: int64(len(items)), Items: items[lo:hi]}
	}
}

func TestStatusAndFindPage(t *testing.T) {
	var items []BackupInfo
	for i := range 250 {
		items = append(items, BackupInfo{BackupId: int64(1000 + i), Status: "SUCCESS", StartTime: "2026-01-01 00:00:00",
			ManualBackupName: fmt.Sprintf("other-%d", i)})
	}
	p40 := int64(40)
	items[230] = BackupInfo{BackupId: 1230, Status: "RUNNING", Progress: &p40, ManualBackupName: "mine", StartTime: "2026-01-02 00:00:00"}
	items[10] = BackupInfo{BackupId: 1010, Status: "FAILED", ManualBackupName: "mine", StartTime: "2026-01-01 00:00:00"}
	items[20] = BackupInfo{BackupId: 1020, Status: "SUCCESS", ManualBackupName: "old", StartTime: "2026-01-01 00:00:00"}
	f, c := newFake(t, map[string]func([]byte) any{"DescribeBackups": backupsHandler(items)})
	p := New(c, Options{})
	ctx := context.Background()

	cases := []struct {
		ref   provider.Ref
		state provider.State
		prog  int
	}{
		{"backup/1230", provider.Running, 40},
		{"backup/1010", provider.Failed, -1},
		{"backup/1020", provider.Succeeded, 100},
		{"backup/9999", provider.Running, -1}, // not listed yet
	}
	for _, tc := range cases {
		st, err := p.Status(ctx, spec("mine"), tc.ref)
		if err != nil || st.State != tc.state || st.Progress != tc.prog {
			t.Errorf("Status(%s) = %+v, %v; want %v progress %d", tc.ref, st, err, tc.state, tc.prog)
		}
	}
	ref, found, err := p.Find(ctx, spec("mine"))
	if err != nil || !found || ref != "backup/1230" {
		t.Errorf("Find(mine) = %q, %v, %v; want the newest, backup/1230", ref, found, err)
	}
	before := len(f.Calls())
	if ref, found, err := p.Find(ctx, spec("absent")); err != nil || found {
		t.Errorf("Find(absent) = %q, %v, %v; want not found", ref, found, err)
	}
	if n := len(f.Calls()) - before; n != 3 {
		t.Errorf("Find over 250 backups made %d calls; want 3 pages of 100", n)
	}
}

func TestCloudErrorReachable(t *testing.T) {
	_, c := newFake(t, map[string]func([]byte) any{
		"CreateBackup": func([]byte) any { return cloudError{Code: "OperationDenied.ActionInProcess", Message: "busy"} },
	})
	s := spec("n1")
	s.Method = "physical"
	_, err := New(c, Options{}).Start(context.Background(), s)
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != "OperationDenied.ActionInProcess" || ae.RequestID != "req-CreateBackup" {
		t.Fatalf("err = %v; want the cloud's code and request id", err)
	}
	if apierr.KindOf(err) != apierr.RetryLater {
		t.Errorf("kind = %v; want retry-later", apierr.KindOf(err))
	}
}

func TestValidationBeforeCall(t *testing.T) {
	f, c := newFake(t, nil)
	p := New(c, Options{})
	bad := []provider.Spec{
		{Op: provider.Backup, Product: provider.SQLServer, InstanceID: "mssql-i1z41iwd", Name: "n"},
		{Op: provider.Import, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n", SourceURL: "u"},
		{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n", Method: "physical",
			Tables: []provider.Table{{DB: "d"}}},
		{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n", Method: "zip"},
	}
	for _, s := range bad {
		if _, err := p.Start(context.Background(), s); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Start(%+v) err = %v; want invalid input", s, err)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls made; want 0", n)
	}
}

func TestDiscover(t *testing.T) {
	tag := []TagInfo{{TagKey: "backupflow", TagValue: "nightly"}}
	all := []InstanceInfo{
		{InstanceId: "cdb-run00001", InstanceName: "a", Status: 1, InstanceType: 1, TagList: tag, Region: "ap-shanghai"},
		{InstanceId: "cdb-new00001", Status: 0, InstanceType: 1, TagList: tag},
		{InstanceId: "cdb-iso00001", Status: 5, InstanceType: 1, TagList: tag},
		{InstanceId: "cdb-ro000001", Status: 1, InstanceType: 3, TagList: tag},
		{InstanceId: "cdb-other001", Status: 1, InstanceType: 1, TagList: []TagInfo{{TagKey: "backupflow", TagValue: "weekly"}}},
	}
	var reqs []DescribeDBInstancesRequest
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeDBInstances": func(body []byte) any {
			var req DescribeDBInstancesRequest
			_ = json.Unmarshal(body, &req)
			reqs = append(reqs, req)
			// Two rows per page whatever the limit, to exercise paging.
			lo := min(int(req.Offset), len(all))
			hi := min(lo+2, len(all))
			return DescribeDBInstancesResponse{TotalCount: int64(len(all)), Items: all[lo:hi]}
		},
	})
	got, err := New(c, Options{Region: "ap-guangzhou"}).Discover(context.Background(), "backupflow", "nightly")
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Instance{
		{Product: provider.MySQL, Region: "ap-shanghai", InstanceID: "cdb-run00001", Name: "a", Eligible: true,
			Methods: []string{"physical", "logical", "snapshot"}},
		{Product: provider.MySQL, Region: "ap-guangzhou", InstanceID: "cdb-new00001", Reason: "creating"},
		{Product: provider.MySQL, Region: "ap-guangzhou", InstanceID: "cdb-iso00001", Reason: "isolated"},
		{Product: provider.MySQL, Region: "ap-guangzhou", InstanceID: "cdb-ro000001", Reason: "read-only replica"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover =\n%+v\nwant\n%+v", got, want)
	}
	if len(reqs) != 3 || !reflect.DeepEqual(reqs[0].Tags, []TagFilter{{"backupflow", "nightly"}}) ||
		len(reqs[0].InstanceTypes) != 0 || reqs[2].Offset != 4 {
		t.Errorf("requests = %+v", reqs)
	}
}

// DescribeBackups during a poll may answer OperationDenied.WrongStatus (a
// passing instance state, per the SDK's error list): check again later.
func TestPollWrongStatusRetriesLater(t *testing.T) {
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeBackups": func([]byte) any { return cloudError{Code: "OperationDenied.WrongStatus", Message: "wrong status"} },
	})
	_, err := New(c, Options{}).Status(context.Background(), spec("n1"), "backup/102996666")
	if apierr.Code(err) != "OperationDenied.WrongStatus" || apierr.KindOf(err) != apierr.RetryLater {
		t.Errorf("err = %v (kind %v); want OperationDenied.WrongStatus, retry-later", err, apierr.KindOf(err))
	}
}

// A create answer without the BackupId is ambiguous: look up, then retry.
func TestCreateWithoutIDIsAmbiguous(t *testing.T) {
	_, c := newFake(t, map[string]func([]byte) any{
		"CreateBackup": func([]byte) any { return map[string]any{} },
	})
	s := spec("n1")
	s.Method = "physical"
	if _, err := New(c, Options{}).Start(context.Background(), s); apierr.KindOf(err) != apierr.RetryAfterLookup {
		t.Errorf("err = %v (kind %v); want retry-after-lookup", err, apierr.KindOf(err))
	}
}
