package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestLoadFromAgreesWithLoad checks the lookup-based loader against
// envconfig on the process environment, for defaults and for set values of
// every field kind.
func TestLoadFromAgreesWithLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"defaults", nil},
		{"every kind", map[string]string{
			"BACKUPFLOW_WORK_QUEUE":      "cmq://backupflow-work?region=ap-guangzhou",
			"BACKUPFLOW_PRODUCTS":        "mysql,sqlserver",
			"BACKUPFLOW_MAX_ATTEMPTS":    "3",
			"BACKUPFLOW_BACKUP_DEADLINE": "90s",
			"BACKUPFLOW_TARGETS":         "cdb-c1nl9rpv:physical,mssql-njj2mtpl",
			"BACKUPFLOW_IMPORT_RULES":    "imports/*/*.bak={1}",
			"BACKUPFLOW_NOTIFY":          "print:slack",
			"BACKUPFLOW_NOTIFY_MODE":     "failures",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			want, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			got, err := LoadFrom(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LoadFrom = %+v\nLoad     = %+v", got, want)
			}
		})
	}
}

func TestLoadFromErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ key, val string }{
		{"BACKUPFLOW_MAX_ATTEMPTS", "many"},
		{"BACKUPFLOW_BACKUP_DEADLINE", "soon"},
		{"BACKUPFLOW_NOTIFY_MODE", "sometimes"},
	} {
		_, err := LoadFrom(func(k string) string {
			if k == tc.key {
				return tc.val
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), tc.key) || strings.Contains(err.Error(), tc.val) {
			t.Errorf("%s=%s: error %v; want one naming the variable and not the value", tc.key, tc.val, err)
		}
	}
}
