package app

import (
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/function"
)

// TestDrainWorkersFromTheEnvironment: the deployed drain's worker count
// defaults to function.DefaultWorkers (whose comment says why), is set by
// BACKUPFLOW_DRAIN_WORKERS, and a bad value fails loudly at start.
func TestDrainWorkersFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		val     string
		want    int
		wantErr string
	}{
		{"", function.DefaultWorkers, ""},
		{"1", 1, ""},
		{"32", 32, ""},
		{"0", 0, "BACKUPFLOW_DRAIN_WORKERS must be from 1 to 64"},
		{"65", 0, "BACKUPFLOW_DRAIN_WORKERS must be from 1 to 64"},
		{"many", 0, "BACKUPFLOW_DRAIN_WORKERS"},
	} {
		cfg, err := config.LoadFrom(func(k string) string {
			if k == "BACKUPFLOW_DRAIN_WORKERS" {
				return tc.val
			}
			return ""
		})
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v; want one naming %q", tc.val, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.val, err)
		case cfg.DrainWorkers != tc.want:
			t.Errorf("%q: %d workers; want %d", tc.val, cfg.DrainWorkers, tc.want)
		}
	}
}
