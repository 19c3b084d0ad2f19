package flow

import (
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// TestOneJobIsOneJob: the plan and the report count in words an operator
// reads aloud — "1 job", not "1 jobs" (the new-user trial of issue 16).
func TestOneJobIsOneJob(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	one := Plan{Run: "nightly-x", At: at, Jobs: []PlannedJob{{Job: "j1", Instance: "cdb-c1nl9rpv", Product: provider.MySQL}},
		Pacing: []Pacing{{Product: provider.MySQL, Jobs: 1, PerSecond: 5, Limit: 5}}}
	two := Plan{Run: "nightly-x", At: at, Jobs: []PlannedJob{{Job: "j1"}, {Job: "j2"}}}
	for _, tc := range []struct {
		name, text, want, not string
	}{
		{"plan of one", one.Text(), "1 job, 0 skipped", "1 jobs"},
		{"plan of two", two.Text(), "2 jobs, 0 skipped", ""},
		{"report of one", RunView{Run: "r", Jobs: []RunJob{{Job: "j1"}}}.Text(), "Run r: 1 job, 0 skipped", "1 jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.text, tc.want) || (tc.not != "" && strings.Contains(tc.text, tc.not)) {
				t.Fatalf("got\n%s\nwant %q, never %q", tc.text, tc.want, tc.not)
			}
		})
	}
}
