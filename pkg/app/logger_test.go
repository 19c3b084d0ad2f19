package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLogTimesAreUTC: a process whose local zone is not UTC still logs UTC
// times, so its first log line does not read the zone file (and lines from
// functions in different regions sort alike).
func TestLogTimesAreUTC(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("CST", 8*3600)
	t.Cleanup(func() { time.Local = saved })
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			NewLogger(&buf, format, "info").Info("hello", "at", time.Date(2026, 12, 4, 9, 0, 0, 0, time.Local))
			line := strings.TrimSpace(buf.String())
			var stamp string
			if format == "json" {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				stamp, _ = rec["time"].(string)
				// Only the record's own time is converted: an attribute keeps
				// the zone it was given.
				if at, _ := rec["at"].(string); !strings.HasSuffix(at, "+08:00") {
					t.Errorf("attribute at = %q; want its own +08:00", at)
				}
			} else {
				stamp, _, _ = strings.Cut(strings.TrimPrefix(line, "time="), " ")
			}
			ts, err := time.Parse(time.RFC3339Nano, stamp)
			if err != nil {
				t.Fatalf("time %q in %q: %v", stamp, line, err)
			}
			if _, off := ts.Zone(); off != 0 || !strings.HasSuffix(stamp, "Z") {
				t.Errorf("time %q; want UTC", stamp)
			}
		})
	}
}
