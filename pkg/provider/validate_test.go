package provider

import (
	"errors"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
)

func TestProductOf(t *testing.T) {
	tests := map[string]Product{
		"cdb-c1nl9rpv": MySQL, "mssql-i1z41iwd": SQLServer, "cmgo-ayxpky6l": MongoDB,
		"d8e6ca5a624745bcb546a227aa3ae1cfin01": HuaweiRDS, "rds-x": "", "": "",
	}
	for id, want := range tests {
		got, ok := ProductOf(id)
		if got != want || ok != (want != "") {
			t.Errorf("ProductOf(%q) = %q, %v; want %q", id, got, ok, want)
		}
	}
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"mysql seed example", Spec{Op: Backup, Product: MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n1", Method: "logical", Tables: []Table{{DB: "db1", Table: "tb1"}}}, true},
		{"mysql bad method", Spec{Op: Backup, Product: MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n1", Method: "hot"}, false},
		{"mysql tables need logical", Spec{Op: Backup, Product: MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n1", Method: "physical", Tables: []Table{{DB: "db1"}}}, false},
		{"bad cdb id", Spec{Op: Backup, Product: MySQL, InstanceID: "cdb-!", Name: "n1"}, false},
		{"sqlserver multi-db", Spec{Op: Backup, Product: SQLServer, InstanceID: "mssql-njj2mtpl", Name: "n1", Databases: []string{"db1", "db2"}}, true},
		{"illegal tencent name", Spec{Op: Backup, Product: SQLServer, InstanceID: "mssql-njj2mtpl", Name: "bad name!"}, false},
		{"import needs a source", Spec{Op: Import, Product: SQLServer, InstanceID: "mssql-rdc0gajn", Name: "n1"}, false},
		{"import only on sqlserver", Spec{Op: Import, Product: MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n1", SourceURL: "https://x"}, false},
		{"mongodb snapshot", Spec{Op: Backup, Product: MongoDB, InstanceID: "cmgo-ayxpky6l", Name: "remarkInfo", Method: "snapshot"}, true},
		// Huawei (seed 003): 4-64 chars, leading letter, letters digits - _; description rules.
		{"huawei seed example", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01", Name: "backup", Description: "manual backup"}, true},
		{"huawei name too short", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01", Name: "bk"}, false},
		{"huawei name too long", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01", Name: long}, false},
		{"huawei name leading digit", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01", Name: "1backup"}, false},
		{"huawei description chars", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01", Name: "backup", Description: "a=b"}, false},
		{"huawei description length", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01", Name: "backup", Description: strings.Repeat("d", 257)}, false},
		// Options the seeds document (StorageStrategy, BackupRetentionDays, backup_database_individually).
		{"sqlserver keep until gone", Spec{Op: Backup, Product: SQLServer, InstanceID: "mssql-njj2mtpl", Name: "n1", KeepUntilGone: true}, true},
		{"keep until gone is sqlserver's", Spec{Op: Backup, Product: MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n1", KeepUntilGone: true}, false},
		{"mongodb retention", Spec{Op: Backup, Product: MongoDB, InstanceID: "cmgo-ayxpky6l", Name: "n1", RetentionDays: 30}, true},
		{"mongodb keep forever", Spec{Op: Backup, Product: MongoDB, InstanceID: "cmgo-ayxpky6l", Name: "n1", RetentionDays: -2}, true},
		{"mongodb retention range", Spec{Op: Backup, Product: MongoDB, InstanceID: "cmgo-ayxpky6l", Name: "n1", RetentionDays: 7301}, false},
		{"mongodb retention below -2", Spec{Op: Backup, Product: MongoDB, InstanceID: "cmgo-ayxpky6l", Name: "n1", RetentionDays: -3}, false},
		{"retention is mongodb's", Spec{Op: Backup, Product: SQLServer, InstanceID: "mssql-njj2mtpl", Name: "n1", RetentionDays: 7}, false},
		{"huawei individually", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin04", Name: "backup", Databases: []string{"db1"}, Individually: true}, true},
		{"huawei individually needs databases", Spec{Op: Backup, Product: HuaweiRDS, InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin04", Name: "backup", Individually: true}, false},
		{"individually is huawei's", Spec{Op: Backup, Product: SQLServer, InstanceID: "mssql-njj2mtpl", Name: "n1", Databases: []string{"db1"}, Individually: true}, false},
		{"unknown op", Spec{Op: "restore", Product: MySQL, InstanceID: "cdb-c1nl9rpv", Name: "n1"}, false},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v; want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("%s: %v is not ErrInvalidInput", tt.name, err)
		}
	}
}

func TestLimitsFollowTheSeeds(t *testing.T) {
	if LimitsOf(MySQL, Backup).CreatePerSecond != 5 || LimitsOf(SQLServer, Backup).CreatePerSecond != 20 ||
		LimitsOf(MongoDB, Backup).CreatePerSecond != 20 || LimitsOf(SQLServer, Import).CreatePerSecond != 20 {
		t.Errorf("create limits differ from the seed documents")
	}
}
