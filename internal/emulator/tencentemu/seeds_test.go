package tencentemu

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestSeedExamples replays every seed example request unchanged (the GET
// examples as written, with Action in the query; the cdb POST body byte for
// byte) and checks the documented answer shape and types.
func TestSeedExamples(t *testing.T) {
	tests := []struct {
		name, method, service, query, body string
		field                              string
		wantString                         bool // field is a JSON string (else a number)
	}{
		{name: "seed000 sqlserver CreateBackup", method: http.MethodGet, service: "sqlserver",
			query: "Action=CreateBackup&InstanceId=mssql-njj2mtpl&Strategy=1&DBNames.0=db1&DBNames.1=db2&Version=2018-03-28&Region=ap-guangzhou",
			field: "FlowId"},
		{name: "seed001 cdb CreateBackup", method: http.MethodPost, service: "cdb",
			body: `{
        "InstanceId": "cdb-c1nl9rpv",
        "BackupDBTableList": [
            {
                "Table": "tb1",
                "Db": "db1"
            }
        ],
        "BackupMethod": "logical"
    }`, field: "BackupId"},
		{name: "seed002 mongodb CreateBackupDBInstance", method: http.MethodGet, service: "mongodb",
			query: "Action=CreateBackupDBInstance&InstanceId=cmgo-ayxpky6l&BackupRemark=remarkInfo&BackupMethod=0&Version=2019-07-25",
			field: "AsyncRequestId", wantString: true},
		{name: "seed004 sqlserver StartBackupMigration", method: http.MethodGet, service: "sqlserver",
			query: "Action=StartBackupMigration&InstanceId=mssql-rdc0gajn&BackupMigrationId=mssql-backup-migration-kpl74n9l&Version=2018-03-28&Region=ap-guangzhou",
			field: "FlowId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{DisableRateLimits: true})
			action := ""
			if tc.method == http.MethodPost {
				action = "CreateBackup"
			}
			resp := e.raw(tc.method, tc.service, action, tc.query, []byte(tc.body), nil)
			if c := errCode(resp); c != "" {
				t.Fatalf("error %s: %v", c, resp["Error"])
			}
			v, ok := resp[tc.field]
			if !ok {
				t.Fatalf("no %s in %v", tc.field, resp)
			}
			if _, isStr := v.(string); isStr != tc.wantString {
				t.Errorf("%s = %#v: want string=%v", tc.field, v, tc.wantString)
			}
			if !uuidRe.MatchString(resp["RequestId"].(string)) {
				t.Errorf("RequestId %q is not a uuid", resp["RequestId"])
			}
			if len(e.s.Jobs()) != 1 {
				t.Errorf("jobs = %d, want 1", len(e.s.Jobs()))
			}
		})
	}
}

// TestSeedExamplesThroughClient sends the same requests through the
// project's SDK-based client (POST JSON) and decodes the typed answers.
func TestSeedExamplesThroughClient(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true})
	var cdb struct{ BackupId int64 }
	e.mustCall("cdb", "CreateBackup", json.RawMessage(`{"InstanceId":"cdb-c1nl9rpv","BackupDBTableList":[{"Table":"tb1","Db":"db1"}],"BackupMethod":"logical"}`), &cdb)
	if cdb.BackupId == 0 {
		t.Error("cdb BackupId is 0")
	}
	var ms struct{ FlowId int64 }
	e.mustCall("sqlserver", "CreateBackup", map[string]any{"InstanceId": "mssql-njj2mtpl", "Strategy": 1, "DBNames": []string{"db1", "db2"}}, &ms)
	if ms.FlowId == 0 {
		t.Error("sqlserver FlowId is 0")
	}
	var mg struct{ AsyncRequestId string }
	e.mustCall("mongodb", "CreateBackupDBInstance", map[string]any{"InstanceId": "cmgo-ayxpky6l", "BackupRemark": "remarkInfo", "BackupMethod": 0}, &mg)
	if mg.AsyncRequestId == "" {
		t.Error("mongodb AsyncRequestId is empty")
	}
	var st struct{ FlowId int64 }
	e.mustCall("sqlserver", "StartBackupMigration", map[string]any{"InstanceId": "mssql-rdc0gajn", "BackupMigrationId": SeedMigrationID}, &st)
	if st.FlowId == 0 {
		t.Error("StartBackupMigration FlowId is 0")
	}
}
