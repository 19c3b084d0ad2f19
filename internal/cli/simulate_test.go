package cli

import (
	"runtime/debug"
	"testing"
)

// simulationGC raises GOGC and sets a soft memory limit only where the
// environment leaves them unset, and its restore puts back what was there
// (tests run the command in their own process).
func TestSimulationGC(t *testing.T) {
	const pct, lim = 123, int64(7 << 30)
	prevPct, prevLim := debug.SetGCPercent(pct), debug.SetMemoryLimit(lim)
	t.Cleanup(func() { debug.SetGCPercent(prevPct); debug.SetMemoryLimit(prevLim) })
	for _, tc := range []struct {
		name             string
		env              map[string]string
		wantPct, wantLim int64
	}{
		{"unset", nil, 400, 4 << 30},
		{"GOGC given", map[string]string{"GOGC": "50"}, pct, 4 << 30},
		{"GOMEMLIMIT given", map[string]string{"GOMEMLIMIT": "1GiB"}, 400, lim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := simulationGC(func(k string) string { return tc.env[k] })
			gotPct, gotLim := readGC()
			restore()
			if int64(gotPct) != tc.wantPct || gotLim != tc.wantLim {
				t.Errorf("while simulating: GOGC %d, limit %d; want %d, %d", gotPct, gotLim, tc.wantPct, tc.wantLim)
			}
			if p, l := readGC(); p != pct || l != lim {
				t.Errorf("after restore: GOGC %d, limit %d; want %d, %d", p, l, pct, lim)
			}
		})
	}
}

func readGC() (int, int64) {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p, debug.SetMemoryLimit(-1) // a negative limit only reads it
}
