package config_test

import (
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/config"
)

func TestDecoders(t *testing.T) {
	var tg config.Targets
	if err := tg.Decode("cdb-c1nl9rpv:physical, mssql-njj2mtpl"); err != nil || len(tg) != 2 || tg[0].Method != "physical" {
		t.Errorf("Targets list = %+v, %v", tg, err)
	}
	tg = nil
	if err := tg.Decode(`[{"instance":"cmgo-ayxpky6l","method":"logical"}]`); err != nil || len(tg) != 1 {
		t.Errorf("Targets JSON = %+v, %v", tg, err)
	}
	tg = nil
	opts := `[{"instance":"mssql-njj2mtpl","keepUntilGone":true},{"instance":"cmgo-ayxpky6l","retentionDays":-2},` +
		`{"instance":"d8e6ca5a624745bcb546a227aa3ae1cfin04","databases":["db1"],"individually":true}]`
	if err := tg.Decode(opts); err != nil || len(tg) != 3 || !tg[0].KeepUntilGone || tg[1].RetentionDays != -2 || !tg[2].Individually {
		t.Errorf("Targets with options = %+v, %v", tg, err)
	}
	for _, bad := range []string{
		`[{"instance":"cdb-c1nl9rpv","retentionDays":7}]`,       // mongodb's option
		`[{"instance":"cmgo-ayxpky6l","retentionDays":9000}]`,   // out of range
		`[{"instance":"mssql-njj2mtpl","individually":true}]`,   // huawei's, and needs databases
		`[{"instance":"cmgo-ayxpky6l","method":"incremental"}]`, // no such method
	} {
		tg = nil
		if err := tg.Decode(bad); err == nil {
			t.Errorf("Targets %s accepted", bad)
		}
	}
	var r config.ImportRules
	if err := r.Decode("imports/*/*.bak={1},special/x.bak=mssql-rdc0gajn"); err != nil || len(r) != 2 || r[1].Instance != "mssql-rdc0gajn" {
		t.Errorf("ImportRules = %+v, %v", r, err)
	}
	if err := r.Decode("no-equals-sign"); err == nil {
		t.Errorf("a malformed rule was accepted")
	}
}

func TestValidateNamesTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BACKUPFLOW_NOTIFY_MODE": "sometimes"}, "BACKUPFLOW_NOTIFY_MODE"},
		{map[string]string{"BACKUPFLOW_DISCOVER_TAG": "novalue"}, "BACKUPFLOW_DISCOVER_TAG"},
		{map[string]string{"BACKUPFLOW_MAX_TARGETS": "-3"}, "BACKUPFLOW_MAX_TARGETS"},
		{map[string]string{"BACKUPFLOW_BACKUP_DEADLINE": "forever"}, "BACKUPFLOW_BACKUP_DEADLINE"},
		{map[string]string{"BACKUPFLOW_REPORT_SECRET": "short-secret"}, "BACKUPFLOW_REPORT_SECRET"},
		{map[string]string{"BACKUPFLOW_REPORT_URL": "https://chat.example/report"}, "BACKUPFLOW_REPORT_SECRET"},
		{map[string]string{"BACKUPFLOW_REPORT_URL": "chat.example/report", "BACKUPFLOW_REPORT_SECRET": "0123456789abcdef0123"}, "BACKUPFLOW_REPORT_URL"},
	}
	for _, tt := range tests {
		_, err := config.LoadFrom(func(k string) string { return tt.env[k] })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadFrom(%v) = %v; want an error naming %s", tt.env, err, tt.want)
		}
		for _, v := range tt.env {
			if err != nil && strings.Contains(err.Error(), v) && v != "novalue" {
				t.Errorf("error echoes the value %q: %v", v, err)
			}
		}
	}
}

func TestRetentionSettings(t *testing.T) {
	env := map[string]string{
		"BACKUPFLOW_TARGETS":   `[{"instance":"cdb-c1nl9rpv","retention":{"keepLast":2}},{"instance":"cdb-k2m4p6r8"}]`,
		"BACKUPFLOW_RETENTION": "keep-last=7,keep-days=30", "BACKUPFLOW_RETENTION_DELETE": "true",
	}
	c, err := config.LoadFrom(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	f := c.Flow()
	if f.Retention.KeepLast != 7 || f.Retention.KeepDays != 30 || !f.RetentionDelete || f.RetentionShare != 0.5 {
		t.Errorf("flow retention settings = %+v, %v, %v", f.Retention, f.RetentionDelete, f.RetentionShare)
	}
	if r := f.Targets[0].Retention; r == nil || r.KeepLast != 2 || f.Targets[1].Retention != nil {
		t.Errorf("per-target rules = %+v, %+v", f.Targets[0].Retention, f.Targets[1].Retention)
	}
	for k, v := range map[string]string{"BACKUPFLOW_RETENTION": "keep=3", "BACKUPFLOW_RETENTION_SHARE": "1.5",
		"BACKUPFLOW_TARGETS": `[{"instance":"cdb-c1nl9rpv","retention":{"keepLast":-1}}]`} {
		bad := map[string]string{k: v}
		if _, err := config.LoadFrom(func(k string) string { return bad[k] }); err == nil || strings.Contains(err.Error(), v) {
			t.Errorf("%s=%s: err %v; want an error naming the variable, not the value", k, v, err)
		}
	}
}
