package tencentemu

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

func TestRateLimits(t *testing.T) {
	tests := []struct {
		service, action string
		req             map[string]any
		limit           int
		code            string
	}{
		{"cdb", "DescribeBackups", map[string]any{"InstanceId": "cdb-c1nl9rpv"}, 10, codeRequestLimit},
		{"cdb", "DescribeDBInstances", map[string]any{}, 100, codeRequestLimit},
		{"sqlserver", "DescribeBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn"}, 20, codeRequestLimit},
		{"mongodb", "DescribeDBInstances", map[string]any{}, 20, codeMongoTooManyRequests},
	}
	for _, tc := range tests {
		t.Run(tc.service+" "+tc.action, func(t *testing.T) {
			e := newEnv(t, Options{})
			for i := 0; i < tc.limit; i++ {
				e.mustCall(tc.service, tc.action, tc.req, nil)
			}
			wantCode(t, e.call(tc.service, tc.action, tc.req, nil), tc.code)
			if got := e.s.Calls(tc.service, tc.action); got != tc.limit {
				t.Errorf("Calls = %d, want %d (throttled requests do not reach the action)", got, tc.limit)
			}
			e.clock.Advance(time.Second) // a new window on the virtual clock
			e.mustCall(tc.service, tc.action, tc.req, nil)
		})
	}
	t.Run("cdb CreateBackup 5/s", func(t *testing.T) {
		e := newEnv(t, Options{})
		ids := []string{"cdb-c1nl9rpv", "cdb-k2m4p6r8"}
		for i := 0; i < 5; i++ {
			// Alternating instances: some answer ActionInProcess, which still counts.
			_ = e.call("cdb", "CreateBackup", map[string]any{"InstanceId": ids[i%2], "BackupMethod": "physical"}, nil)
		}
		wantCode(t, e.call("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical"}, nil), codeRequestLimit)
	})
	t.Run("disabled", func(t *testing.T) {
		e := newEnv(t, Options{DisableRateLimits: true})
		for i := 0; i < 30; i++ {
			e.mustCall("cdb", "DescribeBackups", map[string]any{"InstanceId": "cdb-c1nl9rpv"}, nil)
		}
	})
}

func TestFaults(t *testing.T) {
	create := map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical"}
	t.Run("internal error on create: first performs, second does not", func(t *testing.T) {
		inj := fault.New(0, 1)
		e := newEnv(t, Options{DisableRateLimits: true, Faults: inj})
		inj.Force(fault.InternalError, fault.InternalError)
		wantCode(t, e.call("cdb", "CreateBackup", create, nil), codeCdbInternal)
		if n := len(e.s.Jobs()); n != 1 {
			t.Fatalf("after the first fault jobs = %d, want 1 (performed, answer lost)", n)
		}
		e.clock.Advance(time.Minute)
		wantCode(t, e.call("cdb", "CreateBackup", create, nil), codeCdbInternal)
		if n := len(e.s.Jobs()); n != 1 {
			t.Fatalf("after the second fault jobs = %d, want 1 (not performed)", n)
		}
	})
	t.Run("drop on create", func(t *testing.T) {
		inj := fault.New(0, 1)
		e := newEnv(t, Options{DisableRateLimits: true, Faults: inj})
		inj.Force(fault.Drop)
		wantCode(t, e.call("cdb", "CreateBackup", create, nil), "ClientError.NetworkError")
		if n := len(e.s.Jobs()); n != 1 {
			t.Fatalf("jobs = %d, want 1", n)
		}
	})
	t.Run("internal error on read", func(t *testing.T) {
		inj := fault.New(0, 1)
		e := newEnv(t, Options{DisableRateLimits: true, Faults: inj})
		inj.Force(fault.InternalError)
		wantCode(t, e.call("sqlserver", "DescribeBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn"}, nil), codeMssqlInternal)
	})
	t.Run("gateway 5xx", func(t *testing.T) {
		inj := fault.New(0, 1)
		e := newEnv(t, Options{DisableRateLimits: true, Faults: inj})
		inj.Force(fault.ServerError)
		if err := e.call("cdb", "CreateBackup", create, nil); err == nil {
			t.Fatal("want an error from a gateway 503")
		}
		if n := len(e.s.Jobs()); n != 0 {
			t.Fatalf("jobs = %d", n)
		}
	})
	t.Run("throttle and busy", func(t *testing.T) {
		inj := fault.New(0, 1)
		e := newEnv(t, Options{DisableRateLimits: true, Faults: inj})
		inj.Force(fault.Throttle, fault.Busy, fault.Busy, fault.Busy)
		wantCode(t, e.call("mongodb", "DescribeDBInstances", map[string]any{}, nil), codeRequestLimit)
		wantCode(t, e.call("cdb", "CreateBackup", create, nil), codeCdbActionInProcess)
		wantCode(t, e.call("sqlserver", "CreateBackup", map[string]any{"InstanceId": "mssql-i1z41iwd"}, nil), codeMssqlStatusInvalid)
		wantCode(t, e.call("mongodb", "CreateBackupDBInstance", map[string]any{"InstanceId": "cmgo-ayxpky6l", "BackupMethod": 0}, nil), codeMongoStatusAbnormal)
		if n := len(e.s.Jobs()); n != 0 {
			t.Fatalf("jobs = %d", n)
		}
	})
	t.Run("slow", func(t *testing.T) {
		inj := fault.New(0, 1)
		inj.SlowDelay = time.Millisecond
		e := newEnv(t, Options{DisableRateLimits: true, Faults: inj})
		inj.Force(fault.Slow)
		e.mustCall("cdb", "CreateBackup", create, nil)
	})
}

func TestFleetBusyAndDuration(t *testing.T) {
	fleet := fixture.Default()
	for i := range fleet.Instances {
		switch fleet.Instances[i].ID {
		case "cdb-k2m4p6r8":
			fleet.Instances[i].Busy = true
		case "mssql-i1z41iwd":
			fleet.Instances[i].Duration = time.Hour
		}
	}
	e := newEnv(t, Options{DisableRateLimits: true, Fleet: fleet})
	wantCode(t, e.call("cdb", "CreateBackup", map[string]any{"InstanceId": "cdb-k2m4p6r8", "BackupMethod": "physical"}, nil), codeCdbActionInProcess)
	var cr struct{ FlowId int64 }
	e.mustCall("sqlserver", "CreateBackup", map[string]any{"InstanceId": "mssql-i1z41iwd"}, &cr)
	e.clock.Advance(59 * time.Minute)
	var st struct{ Status int64 }
	e.mustCall("sqlserver", "DescribeFlowStatus", map[string]any{"FlowId": cr.FlowId}, &st)
	if st.Status != 2 {
		t.Fatalf("a one-hour job is done after 59 minutes: %d", st.Status)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true})
	type tag struct{ TagKey, TagValue string }
	var cdb struct {
		TotalCount int
		Items      []struct {
			InstanceId   string
			Status       int64
			InstanceType int64
			TagList      []tag
		}
	}
	e.mustCall("cdb", "DescribeDBInstances", map[string]any{"Tags": []map[string]string{{"Key": "backupflow", "Value": "nightly"}}, "InstanceTypes": []int{1}}, &cdb)
	if cdb.TotalCount != 4 { // c1nl9rpv, k2m4p6r8, b4sic001, iso00001 (RO filtered by InstanceTypes)
		t.Fatalf("cdb: %+v", cdb)
	}
	if len(cdb.Items[0].TagList) == 0 || cdb.Items[0].Status != 1 {
		t.Errorf("cdb item: %+v", cdb.Items[0])
	}

	var ms struct {
		TotalCount  int
		DBInstances []struct {
			InstanceId   string
			Status       int64
			ResourceTags []tag
		}
	}
	e.mustCall("sqlserver", "DescribeDBInstances", map[string]any{"TagKeys": []string{"backupflow"}, "Limit": 1, "Offset": 1}, &ms)
	if ms.TotalCount != 4 || len(ms.DBInstances) != 1 || ms.DBInstances[0].InstanceId != "mssql-njj2mtpl" {
		t.Fatalf("sqlserver page 1: %+v", ms)
	}
	e.mustCall("sqlserver", "DescribeDBInstances", map[string]any{"TagKeys": []string{"backupflow"}, "Limit": 2, "Offset": 1, "PaginationType": "offset"}, &ms)
	if len(ms.DBInstances) != 2 || ms.DBInstances[0].InstanceId != "mssql-njj2mtpl" {
		t.Fatalf("sqlserver offset mode: %+v", ms)
	}

	var mg struct {
		TotalCount      int
		InstanceDetails []struct {
			InstanceId string
			Status     int64
			Tags       []tag
		}
	}
	e.mustCall("mongodb", "DescribeDBInstances", map[string]any{"Tags": []tag{{"backupflow", "nightly"}}, "InstanceType": 1}, &mg)
	if mg.TotalCount != 3 || mg.InstanceDetails[0].InstanceId != "cmgo-ayxpky6l" || mg.InstanceDetails[0].Status != 2 {
		t.Fatalf("mongodb: %+v", mg)
	}

	var tg struct {
		PaginationToken        string
		ResourceTagMappingList []struct{ Resource string }
	}
	e.mustCall("tag", "GetResources", map[string]any{"TagFilters": []map[string]any{{"TagKey": "backupflow", "TagValue": []string{"nightly"}}}, "MaxResults": 5}, &tg)
	if len(tg.ResourceTagMappingList) != 5 || tg.PaginationToken == "" {
		t.Fatalf("tag page 1: %+v", tg)
	}
	want := 0 // every nightly-tagged Tencent instance of the fleet
	for _, in := range fixture.Default().Instances {
		if in.Product != provider.HuaweiRDS && in.Tags[fixture.NightlyTagKey] == fixture.NightlyTagValue {
			want++
		}
	}
	n := len(tg.ResourceTagMappingList)
	for page := 2; tg.PaginationToken != ""; page++ {
		e.mustCall("tag", "GetResources", map[string]any{"TagFilters": []map[string]any{{"TagKey": "backupflow", "TagValue": []string{"nightly"}}}, "MaxResults": 5, "PaginationToken": tg.PaginationToken}, &tg)
		if l := len(tg.ResourceTagMappingList); l == 0 || l > 5 || page > 10 {
			t.Fatalf("tag page %d: %+v", page, tg)
		}
		n += len(tg.ResourceTagMappingList)
	}
	if n != want {
		t.Errorf("tag pages list %d resources; want %d", n, want)
	}
}

type fakeCMQ struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (f *fakeCMQ) SendMessage(queue, body string, delay time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.sent = append(f.sent, queue+"|"+body+"|"+delay.String())
	return "msg-1", nil
}

func TestTDMQ(t *testing.T) {
	q := &fakeCMQ{}
	e := newEnv(t, Options{DisableRateLimits: true, CMQ: q})
	var out struct {
		Result bool
		MsgId  string
	}
	e.mustCall("tdmq", "SendCmqMsg", map[string]any{"QueueName": "backupflow", "MsgContent": `{"step":"poll"}`, "DelaySeconds": 60}, &out)
	if !out.Result || out.MsgId != "msg-1" || len(q.sent) != 1 || q.sent[0] != `backupflow|{"step":"poll"}|1m0s` {
		t.Fatalf("out %+v sent %v", out, q.sent)
	}
	wantCode(t, e.call("tdmq", "SendCmqMsg", map[string]any{"QueueName": "backupflow", "MsgContent": "x", "DelaySeconds": 3601}, nil), codeInvalidParamValue)
	wantCode(t, e.call("tdmq", "SendCmqMsg", map[string]any{"QueueName": "backupflow", "MsgContent": "x"}, nil), codeMissingParameter)
	q.err = errors.Join(ErrQueueNotFound)
	wantCode(t, e.call("tdmq", "SendCmqMsg", map[string]any{"QueueName": "nope", "MsgContent": "x", "DelaySeconds": 0}, nil), codeResourceNotFound)
	q.err = errors.New("disk on fire")
	wantCode(t, e.call("tdmq", "SendCmqMsg", map[string]any{"QueueName": "backupflow", "MsgContent": "x", "DelaySeconds": 0}, nil), codeFailedOperation)
}
