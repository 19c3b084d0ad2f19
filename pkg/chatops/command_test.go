package chatops_test

import (
	"errors"
	"testing"

	"github.com/backupflow/backupflow/pkg/chatops"
)

func TestParseCommand(t *testing.T) {
	const huawei = "0123456789abcdef0123456789abcdefin01"
	tests := []struct {
		name string
		text string
		want chatops.Command
	}{
		{"empty is help", "", chatops.Command{Verb: "help"}},
		{"help", "help", chatops.Command{Verb: "help"}},
		{"backup", "backup cdb-c1nl9rpv", chatops.Command{Verb: "backup", Instance: "cdb-c1nl9rpv"}},
		{"backup with method", "BACKUP cdb-c1nl9rpv Physical", chatops.Command{Verb: "backup", Instance: "cdb-c1nl9rpv", Method: "physical"}},
		{"slash prefix", "/backupflow backup mssql-abcd1234", chatops.Command{Verb: "backup", Instance: "mssql-abcd1234"}},
		{"dbbackup prefix", "/dbbackup backup cmgo-abcd1234 snapshot", chatops.Command{Verb: "backup", Instance: "cmgo-abcd1234", Method: "snapshot"}},
		{"huawei", "backup " + huawei, chatops.Command{Verb: "backup", Instance: huawei}},
		{"slack mention", "<@U123|bot> backup cdb-c1nl9rpv", chatops.Command{Verb: "backup", Instance: "cdb-c1nl9rpv"}},
		{"wecom robot mention", "@RobotA /dbbackup status 42", chatops.Command{Verb: "status", Query: "42"}},
		{"feishu placeholder", "@_user_1 /dbbackup status", chatops.Command{Verb: "status"}},
		{"dingtalk leading space", "  status cdb-c1nl9rpv", chatops.Command{Verb: "status", Query: "cdb-c1nl9rpv"}},
		{"ideographic space", "backup\u3000cdb-c1nl9rpv", chatops.Command{Verb: "backup", Instance: "cdb-c1nl9rpv"}},
		{"html entities", "import cos://bak-1250000000/a&amp;b.bak to mssql-abcd1234",
			chatops.Command{Verb: "import", Object: "cos://bak-1250000000/a&b.bak", Instance: "mssql-abcd1234"}},
		{"s3 import", "import s3://my.bucket/dumps/orders.bak TO mssql-abcd1234",
			chatops.Command{Verb: "import", Object: "s3://my.bucket/dumps/orders.bak", Instance: "mssql-abcd1234"}},
		{"bare import", "import bak-1250000000/orders.bak to mssql-abcd1234",
			chatops.Command{Verb: "import", Object: "bak-1250000000/orders.bak", Instance: "mssql-abcd1234"}},
		{"slack link", "import <s3://b1/k.bak|s3://b1/k.bak> to mssql-abcd1234",
			chatops.Command{Verb: "import", Object: "s3://b1/k.bak", Instance: "mssql-abcd1234"}},
		{"status job", "status slack-0123456789abcdef", chatops.Command{Verb: "status", Query: "slack-0123456789abcdef"}},
		{"confirm", "confirm abc234", chatops.Command{Verb: "confirm", Code: "ABC234"}},
		{"dead", "/backupflow DEAD", chatops.Command{Verb: "dead"}},
		{"retention", "retention cdb-c1nl9rpv", chatops.Command{Verb: "retention", Instance: "cdb-c1nl9rpv"}},
		{"plan", "<@U1> Plan", chatops.Command{Verb: "plan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chatops.ParseCommand(tt.text)
			if err != nil || got != tt.want {
				t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
			}
		})
	}
}

func TestParseCommand_usage(t *testing.T) {
	for _, text := range []string{
		"restore cdb-c1nl9rpv",
		"backup",
		"backup cdb-UPPER123",
		"backup cdb-c1nl9rpv incremental",
		"backup cdb-c1nl9rpv logical extra",
		"backup rds-12345678",
		"import cos://b/k.bak mssql-abcd1234",
		"import cos://b/k.bak into mssql-abcd1234",
		"import ftp://bucket/k.bak to mssql-abcd1234",
		"import bucket to mssql-abcd1234",
		"import Bucket_Bad/k to mssql-abcd1234",
		"import cos://bucket/ to mssql-abcd1234",
		"import cos://bak-1/k.bak to cdb-",
		"status a b",
		"status ../../etc",
		"confirm",
		"confirm 12",
		"confirm abc23456",
		"dead replay jabc",
		"retention",
		"retention cdb-c1nl9rpv now",
		"retention jabc",
		"plan cdb-c1nl9rpv",
	} {
		if got, err := chatops.ParseCommand(text); !errors.Is(err, chatops.ErrUsage) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want ErrUsage", text, got, err)
		}
	}
}
