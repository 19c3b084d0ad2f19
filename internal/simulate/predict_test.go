package simulate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/provider"
)

// TestPredictFollowsTheHistory: the window is the simulated night's, so it
// moves with the recorded durations: jobs whose instances took 5 minutes
// finish a little after 5 minutes, the one that took 40 ends the night a
// little after 40, and the same fleet with 20-minute records finishes
// after 20. "A little" is the detection delay of the deployed polling.
func TestPredictFollowsTheHistory(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	plan := func(short, long time.Duration) flow.Plan {
		p := flow.Plan{Run: "nightly-20261205T0100Z", At: at}
		for i := range 20 {
			p.Jobs = append(p.Jobs, flow.PlannedJob{Instance: fmt.Sprintf("cdb-p%07d", i), Product: provider.MySQL, Expected: short, FromHistory: true})
		}
		p.Jobs = append(p.Jobs,
			flow.PlannedJob{Instance: "mssql-p0000001", Product: provider.SQLServer, Expected: long, FromHistory: true},
			flow.PlannedJob{Instance: "cmgo-p0000001", Product: provider.MongoDB, Expected: short, FromHistory: true},
			flow.PlannedJob{Instance: "0123456789abcdef0123456789abcdefin01", Product: provider.HuaweiRDS, Expected: short, FromHistory: true})
		return p
	}
	within := func(got, lo time.Duration, share float64) bool {
		return got >= lo && got <= lo+time.Duration(float64(lo)*share)+30*time.Second
	}
	for _, tc := range []struct {
		name        string
		short, long time.Duration
	}{{"5 and 40 minutes", 5 * time.Minute, 40 * time.Minute}, {"20 and 40 minutes", 20 * time.Minute, 40 * time.Minute}} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Predict(context.Background(), plan(tc.short, tc.long), flow.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if !within(w.P50, tc.short, 0.1) || !within(w.P95, tc.short, 0.1) || !within(w.Last, tc.long, 0.1) {
				t.Errorf("window p50 %s, p95 %s, last %s; want p50 and p95 a little after %s, the last a little after %s",
					w.P50, w.P95, w.Last, tc.short, tc.long)
			}
			if !strings.Contains(w.Basis, "simulated night of the 23 jobs") || !strings.Contains(w.Basis, "23 of 23") {
				t.Errorf("basis %q", w.Basis)
			}
		})
	}
}
