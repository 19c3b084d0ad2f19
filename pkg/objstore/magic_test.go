package objstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
)

func TestCheckBackupMagic(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ok      bool
		mention string
	}{
		{"mtf", "TAPE\x00\x00\x00\x00", true, ""},
		{"mtf short", "TAPE", true, ""},
		{"compressed", "MSSQLBAK", true, ""},
		{"zip", "PK\x03\x04\x14\x00\x00\x00", false, "zip"},
		{"gzip", "\x1f\x8b\x08\x00\x00\x00\x00\x00", false, "gzip"},
		{"empty", "", false, "empty"},
		{"text", "hello world", false, `"hello wo"`},
		{"almost", "TAP", false, "TAPE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := objstore.CheckBackupMagic([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("CheckBackupMagic(%q) = %v; want ok %v", tt.in, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, apierr.ErrInvalidInput) {
					t.Errorf("error %v is not invalid input", err)
				}
				if !strings.Contains(err.Error(), tt.mention) {
					t.Errorf("error %q does not mention %q", err, tt.mention)
				}
			}
		})
	}
}
