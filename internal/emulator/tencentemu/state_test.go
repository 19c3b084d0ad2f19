package tencentemu

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

type cdbItem struct {
	BackupId         int64
	Status           string
	Progress         int64
	ManualBackupName string
	Way, Method      string
	StartTime        string
	FinishTime       string
}

func (e *env) cdbBackups(id string) []cdbItem {
	e.t.Helper()
	var out struct {
		TotalCount int
		Items      []cdbItem
	}
	e.mustCall("cdb", "DescribeBackups", map[string]any{"InstanceId": id, "Limit": 100}, &out)
	return out.Items
}

func TestCdbBackupProgression(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true, JobDuration: 4 * time.Second})
	var cr struct{ BackupId int64 }
	e.mustCall("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical", "ManualBackupName": "bf-1"}, &cr)

	items := e.cdbBackups("cdb-c1nl9rpv")
	if len(items) != 1 || items[0].BackupId != cr.BackupId || items[0].Status != "RUNNING" || items[0].Progress != 0 ||
		items[0].ManualBackupName != "bf-1" || items[0].Way != "manual" || items[0].FinishTime != "" {
		t.Fatalf("just created: %+v", items)
	}
	if _, err := time.Parse(tcTime, items[0].StartTime); err != nil {
		t.Errorf("StartTime %q: %v", items[0].StartTime, err)
	}
	// cdb runs manual backups one at a time.
	wantCode(t, e.call("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical"}, nil), codeCdbActionInProcess)

	e.clock.Advance(2 * time.Second)
	if it := e.cdbBackups("cdb-c1nl9rpv")[0]; it.Status != "RUNNING" || it.Progress != 50 {
		t.Fatalf("half way: %+v", it)
	}
	e.clock.Advance(2 * time.Second)
	if it := e.cdbBackups("cdb-c1nl9rpv")[0]; it.Status != "SUCCESS" || it.Progress != 100 || it.FinishTime == "" {
		t.Fatalf("done: %+v", it)
	}
	jobs := e.s.Jobs()
	if len(jobs) != 1 || jobs[0].State != provider.Succeeded || jobs[0].Finished.IsZero() {
		t.Fatalf("jobs: %+v", jobs)
	}

	// A second backup may now run; a failing instance fails it.
	e.s.SetFailJobs("cdb-c1nl9rpv", "disk full")
	e.mustCall("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "snapshot"}, nil)
	e.clock.Advance(5 * time.Second)
	if it := e.cdbBackups("cdb-c1nl9rpv")[0]; it.Status != "FAILED" {
		t.Fatalf("failing instance: %+v", it)
	}
	if j := e.s.Jobs()[1]; j.State != provider.Failed || j.Detail != "disk full" {
		t.Fatalf("failed job: %+v", j)
	}

	e.s.SetBusy("cdb-k2m4p6r8", true)
	wantCode(t, e.call("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-k2m4p6r8", "BackupMethod": "physical"}, nil), codeCdbActionInProcess)
	e.s.SetBusy("cdb-k2m4p6r8", false)
	e.mustCall("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-k2m4p6r8", "BackupMethod": "physical"}, nil)
}

func TestCdbDescribeBackupsPaging(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true, JobDuration: time.Second})
	for i := 0; i < 5; i++ {
		e.mustCall("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical"}, nil)
		e.clock.Advance(time.Second)
	}
	var out struct {
		TotalCount int
		Items      []cdbItem
	}
	e.mustCall("cdb", "DescribeBackups", map[string]any{"InstanceId": "cdb-c1nl9rpv", "Offset": 3, "Limit": 2}, &out)
	if out.TotalCount != 5 || len(out.Items) != 2 || out.Items[0].BackupId < out.Items[1].BackupId {
		t.Fatalf("page: %+v", out)
	}
}

func TestSQLServerBackupProgression(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true})
	var cr struct{ FlowId int64 }
	e.mustCall("sqlserver", "CreateBackup", map[string]any{"InstanceId": "mssql-i1z41iwd", "Strategy": 0, "BackupName": "bf-erp"}, &cr)

	flow := func() int64 {
		var out struct{ Status int64 }
		e.mustCall("sqlserver", "DescribeFlowStatus", map[string]any{"FlowId": cr.FlowId}, &out)
		return out.Status
	}
	type backup struct {
		Id         int64
		Status     int64
		BackupName string
		BackupWay  int64
		DBs        []string
	}
	byFlow := func() backup {
		var out backup
		e.mustCall("sqlserver", "DescribeBackupByFlowId", map[string]any{"InstanceId": "mssql-i1z41iwd", "FlowId": strconv.FormatInt(cr.FlowId, 10)}, &out)
		return out
	}
	if flow() != 2 || byFlow().Status != 0 {
		t.Fatal("want running right after create")
	}
	e.clock.Advance(3 * time.Second)
	if flow() != 0 {
		t.Fatal("flow not successful after the job duration")
	}
	b := byFlow()
	if b.Status != 1 || b.BackupName != "bf-erp" || b.BackupWay != 1 || len(b.DBs) != 1 || b.DBs[0] != "erp" {
		t.Fatalf("backup: %+v", b)
	}

	// DescribeBackups: time window required, Offset is a page number.
	now := e.clock.Now()
	var list struct {
		TotalCount int
		Backups    []backup
	}
	e.mustCall("sqlserver", "DescribeBackups", map[string]any{
		"InstanceId": "mssql-i1z41iwd", "StartTime": fmtTime(now.Add(-time.Hour)), "EndTime": fmtTime(now),
		"BackupName": "bf-erp", "Limit": 1, "Offset": 0,
	}, &list)
	if list.TotalCount != 1 || list.Backups[0].Id != b.Id {
		t.Fatalf("list: %+v", list)
	}
	e.mustCall("sqlserver", "DescribeBackups", map[string]any{
		"InstanceId": "mssql-i1z41iwd", "StartTime": fmtTime(now.Add(-time.Hour)), "EndTime": fmtTime(now), "Limit": 1, "Offset": 1,
	}, &list)
	if len(list.Backups) != 0 {
		t.Fatalf("page 1 of 1-per-page should be empty: %+v", list)
	}
	wantCode(t, e.call("sqlserver", "DescribeBackupByFlowId", map[string]any{"InstanceId": "mssql-i1z41iwd", "FlowId": "999"}, nil), codeBackupNotFound)

	// Single-database backup files: one listed file per database, no Id.
	e.mustCall("sqlserver", "CreateBackup", map[string]any{"InstanceId": "mssql-s1ngle01", "BackupName": "bf-single"}, nil)
	var raw struct {
		TotalCount int
		Backups    []map[string]any
	}
	e.mustCall("sqlserver", "DescribeBackups", map[string]any{
		"InstanceId": "mssql-s1ngle01", "StartTime": fmtTime(now.Add(-time.Hour)), "EndTime": fmtTime(now.Add(time.Hour)),
	}, &raw)
	if raw.TotalCount != 2 {
		t.Fatalf("single-database files: %+v", raw)
	}
	for _, b := range raw.Backups {
		if _, ok := b["Id"]; ok || b["BackupFormat"] != "single" || b["BackupName"] != "bf-single" || len(b["DBs"].([]any)) != 1 {
			t.Errorf("single-database file: %+v; want no Id, format single, one database", b)
		}
	}
	e.mustCall("sqlserver", "DescribeBackups", map[string]any{
		"InstanceId": "mssql-s1ngle01", "StartTime": fmtTime(now.Add(-time.Hour)), "EndTime": fmtTime(now.Add(time.Hour)),
		"BackupFormat": "pkg",
	}, &raw)
	if raw.TotalCount != 0 {
		t.Errorf("BackupFormat pkg lists single-database files: %+v", raw)
	}
}

type migration struct {
	MigrationId   string
	MigrationName string
	Status        int64
	Message       string
	BackupFiles   []string
	Detail        struct{ Progress int64 }
}

func (e *env) migrations(req map[string]any) []migration {
	e.t.Helper()
	var out struct {
		TotalCount         int
		BackupMigrationSet []migration
	}
	e.mustCall("sqlserver", "DescribeBackupMigration", req, &out)
	return out.BackupMigrationSet
}

func TestMigrationProgression(t *testing.T) {
	var checked []string
	checker := func(_ context.Context, raw string) error {
		checked = append(checked, raw)
		if raw == "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/missing.bak?sign=s3cr3t" {
			return errors.New("GET " + raw + ": 404 NoSuchKey")
		}
		return nil
	}
	e := newEnv(t, Options{DisableRateLimits: true, SourceChecker: checker, JobDuration: 10 * time.Second})
	create := func(name, file string) string {
		var out struct{ BackupMigrationId string }
		e.mustCall("sqlserver", "CreateBackupMigration", map[string]any{
			"InstanceId": "mssql-rdc0gajn", "RecoveryType": "FULL", "UploadType": "COS_URL",
			"MigrationName": name, "BackupFiles": []string{file}}, &out)
		return out.BackupMigrationId
	}
	good := create("import-orders", "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/orders.bak?sign=x")
	dup := create("import-orders", "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/orders.bak?sign=x")
	if good == dup || len(good) != len("mssql-backup-migration-")+8 {
		t.Fatalf("ids %q %q", good, dup)
	}
	if got := e.migrations(map[string]any{"InstanceId": "mssql-rdc0gajn", "MigrationName": "import-orders"}); len(got) != 2 || got[0].Status != 2 {
		t.Fatalf("duplicate names are allowed and both are created: %+v", got)
	}
	// Refresh the file (presigned URLs expire) before starting.
	e.mustCall("sqlserver", "ModifyBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": good,
		"BackupFiles": []string{"https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/orders.bak?sign=fresh"}}, nil)

	var st struct{ FlowId int64 }
	e.mustCall("sqlserver", "StartBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": good}, &st)
	if len(checked) != 1 || checked[0] != "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/orders.bak?sign=fresh" {
		t.Fatalf("checked %v", checked)
	}
	wantCode(t, e.call("sqlserver", "StartBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": good}, nil), codeCosStatusErr)
	e.clock.Advance(5 * time.Second)
	m := e.migrations(map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": good})
	if len(m) != 1 || m[0].Status != 7 || m[0].Detail.Progress != 50 {
		t.Fatalf("running: %+v", m)
	}
	e.clock.Advance(5 * time.Second)
	if m := e.migrations(map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": good}); m[0].Status != 9 {
		t.Fatalf("done: %+v", m)
	}
	var fs struct{ Status int64 }
	e.mustCall("sqlserver", "DescribeFlowStatus", map[string]any{"FlowId": st.FlowId}, &fs)
	if fs.Status != 0 {
		t.Fatalf("flow status %d", fs.Status)
	}

	// An unreadable source fails the migration at once, with a message that
	// does not repeat the presigned URL.
	bad := create("import-missing", "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/missing.bak?sign=s3cr3t")
	e.mustCall("sqlserver", "StartBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": bad}, &st)
	m = e.migrations(map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": bad})
	if m[0].Status != 10 || m[0].Message == "" {
		t.Fatalf("failed migration: %+v", m[0])
	}
	if strings.Contains(m[0].Message, "s3cr3t") {
		t.Errorf("message leaks the URL: %q", m[0].Message)
	}
	e.mustCall("sqlserver", "DescribeFlowStatus", map[string]any{"FlowId": st.FlowId}, &fs)
	if fs.Status != 1 {
		t.Fatalf("failed flow status %d", fs.Status)
	}
	var imports int
	for _, j := range e.s.Jobs() {
		if j.Op == provider.Import {
			imports++
		}
	}
	if imports != 3 {
		t.Errorf("imports = %d, want 3 (the unstarted seed migration is not a job)", imports)
	}
}

func TestMongoBackupProgression(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true, JobDuration: 10 * time.Second})
	var cr struct{ AsyncRequestId string }
	e.mustCall("mongodb", "CreateBackupDBInstance", map[string]any{"InstanceId": "cmgo-ayxpky6l", "BackupMethod": 1, "BackupRemark": "bf-events"}, &cr)
	async := func() string {
		var out struct{ Status, StartTime, EndTime string }
		e.mustCall("mongodb", "DescribeAsyncRequestInfo", map[string]any{"AsyncRequestId": cr.AsyncRequestId}, &out)
		return out.Status
	}
	type bk struct {
		BackupDesc string
		BackupType int64
		Status     int64
		BackId     int64
	}
	listBy := func(method any) []bk {
		var out struct {
			BackupList []bk
			TotalCount int
		}
		req := map[string]any{"InstanceId": "cmgo-ayxpky6l"}
		if method != nil {
			req["BackupMethod"] = method
		}
		e.mustCall("mongodb", "DescribeDBBackups", req, &out)
		return out.BackupList
	}
	list := func() []bk { return listBy(1) }
	// The list shows only the method asked for; unset means logical.
	if l := listBy(nil); len(l) != 0 {
		t.Fatalf("default (logical) list shows the physical backup: %+v", l)
	}
	if l := listBy(0); len(l) != 0 {
		t.Fatalf("logical list shows the physical backup: %+v", l)
	}
	if l := listBy(2); len(l) != 1 {
		t.Fatalf("list of all methods: %+v", l)
	}
	if s := async(); s != "initial" {
		t.Fatalf("status %q", s)
	}
	e.clock.Advance(2 * time.Second)
	if s := async(); s != "running" {
		t.Fatalf("status %q", s)
	}
	if l := list(); len(l) != 1 || l[0].Status != 1 || l[0].BackupDesc != "bf-events" || l[0].BackupType != 1 {
		t.Fatalf("list: %+v", l)
	}
	e.clock.Advance(8 * time.Second)
	if s := async(); s != "success" {
		t.Fatalf("status %q", s)
	}
	if l := list(); l[0].Status != 2 {
		t.Fatalf("list: %+v", l)
	}

	// The fixture's flaky instance fails every job.
	e.mustCall("mongodb", "CreateBackupDBInstance", map[string]any{"InstanceId": "cmgo-f4il0001", "BackupMethod": 0}, &cr)
	e.clock.Advance(10 * time.Second)
	if s := async(); s != "failed" {
		t.Fatalf("status %q", s)
	}
}
