package cron

import (
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		expr, from string
		want       []string // successive fire times
	}{
		// The triggers of serverless.yml.
		{"0 0 18 * * * *", "2026-11-23T10:00:00Z", []string{"2026-11-23T18:00:00Z", "2026-11-24T18:00:00Z"}},
		{"0 0 18 * * * *", "2026-11-23T18:00:00Z", []string{"2026-11-24T18:00:00Z"}},
		{"0 */1 * * * * *", "2026-11-23T10:00:30Z", []string{"2026-11-23T10:01:00Z", "2026-11-23T10:02:00Z"}},
		{"30 */1 * * * * *", "2026-11-23T10:00:30Z", []string{"2026-11-23T10:01:30Z", "2026-11-23T10:02:30Z"}},
		// The examples of the SCF documentation.
		{"*/5 * * * * * *", "2026-11-23T10:00:03Z", []string{"2026-11-23T10:00:05Z", "2026-11-23T10:00:10Z"}},
		{"0 */5 * * * * *", "2026-11-23T10:59:00Z", []string{"2026-11-23T11:00:00Z", "2026-11-23T11:05:00Z"}},
		{"0 15 10 * * MON-FRI *", "2026-11-27T11:00:00Z", []string{"2026-11-30T10:15:00Z", "2026-12-01T10:15:00Z"}}, // Fri → Mon
		{"0 0 2 1 * * *", "2026-11-23T00:00:00Z", []string{"2026-12-01T02:00:00Z", "2027-01-01T02:00:00Z"}},
		// Legacy five fields: minute hour day month week, at second 0.
		{"30 2 * * *", "2026-11-23T02:30:00Z", []string{"2026-11-24T02:30:00Z"}},
		{"*/20 * * * *", "2026-11-23T02:30:00Z", []string{"2026-11-23T02:40:00Z", "2026-11-23T03:00:00Z"}},
		// Day and week both set: either fires (2026-12-01 is a Tuesday).
		{"0 0 0 1 * SUN *", "2026-11-28T12:00:00Z", []string{"2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z"}},
		// Week 0 is Sunday; names and numbers agree, case-insensitive.
		{"0 0 0 * * 0 *", "2026-11-23T00:00:00Z", []string{"2026-11-29T00:00:00Z"}},
		{"0 0 0 * * sun *", "2026-11-23T00:00:00Z", []string{"2026-11-29T00:00:00Z"}},
		// Month names, lists, ranges with steps, a start with a step.
		{"0 0 0 1 JAN,jul * *", "2026-02-01T00:00:00Z", []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"0 0 0 1 1-12/6 * *", "2026-02-01T00:00:00Z", []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"10/20 * * * * * *", "2026-11-23T10:00:00Z", []string{"2026-11-23T10:00:10Z", "2026-11-23T10:00:30Z", "2026-11-23T10:00:50Z", "2026-11-23T10:01:10Z"}},
		// Leap day and the year field.
		{"0 0 0 29 2 * *", "2026-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"0 0 0 1 1 * 2030", "2026-03-01T00:00:00Z", []string{"2030-01-01T00:00:00Z", ""}},
		// Never: 31 February, or a year already past.
		{"0 0 0 31 2 * *", "2026-03-01T00:00:00Z", []string{""}},
		{"0 0 0 * * * 1999", "2026-03-01T00:00:00Z", []string{""}},
		{"59 59 23 31 12 * 2099", "2099-12-31T23:59:58Z", []string{"2099-12-31T23:59:59Z", ""}},
	} {
		t.Run(tc.expr+" from "+tc.from, func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			at := utc(tc.from)
			for i, w := range tc.want {
				got := s.Next(at)
				if w == "" {
					if !got.IsZero() {
						t.Fatalf("fire %d: got %s, want never", i, got)
					}
					return
				}
				if want := utc(w); !got.Equal(want) {
					t.Fatalf("fire %d: got %s, want %s", i, got.Format(time.RFC3339), w)
				}
				if !s.Matches(got) {
					t.Errorf("Matches(%s) = false for a time Next returned", got)
				}
				at = got
			}
		})
	}
}

func TestNextKeepsLocation(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	got := MustParse("0 0 2 * * * *").Next(time.Date(2026, 11, 23, 1, 0, 0, 0, shanghai))
	if want := time.Date(2026, 11, 23, 2, 0, 0, 0, shanghai); !got.Equal(want) || got.Location() != shanghai {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestNextAcrossDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	s := MustParse("0 */30 * * * * *")
	// 2026-11-01 01:00–02:00 happens twice in New York; the repeated wall
	// clock fires once (the second pass is skipped), and Next never loops.
	at := time.Date(2026, 11, 1, 0, 45, 0, 0, ny)
	for range 6 {
		n := s.Next(at)
		if !n.After(at) || n.Sub(at) > 90*time.Minute {
			t.Fatalf("Next(%s) = %s", at, n)
		}
		at = n
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "want 7 fields"},
		{"* * * * * *", "got 6"},
		{"60 * * * * * *", "second: \"60\""},
		{"* * 24 * * * *", "hour"},
		{"* * * 0 * * *", "day"},
		{"* * * * 13 * *", "month"},
		{"* * * * * 7 *", "week"},
		{"* * * * * * 2100", "year"},
		{"* * * ? * * *", "day: \"?\""},
		{"* * * L * * *", "day"},
		{"* * * * * 1#2 *", "week"},
		{"5-1 * * * * * *", "backwards"},
		{"*/0 * * * * * *", "step"},
		{"*/x * * * * * *", "step"},
		{"1,,2 * * * * * *", "second"},
		{"* * * * FOO * *", "month"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error = %v, want one mentioning %q", tc.expr, err, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	if got := MustParse("  0  0 18 * *  * * ").String(); got != "0 0 18 * * * *" {
		t.Errorf("String() = %q", got)
	}
}

func FuzzNext(f *testing.F) {
	for _, s := range []string{"0 0 18 * * * *", "*/5 * * * * * *", "0 15 10 * * MON-FRI *", "30 2 * * *",
		"0 0 0 29 2 * *", "0 0 0 31 2 * *", "1-5/2,7 1 1 1 JAN SUN 2026-2030/3"} {
		f.Add(s, int64(1795334400))
	}
	f.Fuzz(func(t *testing.T, expr string, unix int64) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		at := time.Unix(unix%(200*365*86400), 0).UTC()
		n := s.Next(at)
		if n.IsZero() {
			return
		}
		if !n.After(at) || !s.Matches(n) {
			t.Fatalf("%q: Next(%s) = %s: not after, or not matching", expr, at, n)
		}
		// Nothing fires in between: Next from one second earlier agrees.
		if m := s.Next(n.Add(-time.Second)); !m.Equal(n) {
			t.Fatalf("%q: Next(%s) = %s, but Next(%s) = %s", expr, at, n, n.Add(-time.Second), m)
		}
	})
}
