package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Year bounds of the SCF timer syntax.
const (
	MinYear = 1970
	MaxYear = 2099
)

// Schedule is a parsed cron expression. Each field is a bit set of the
// values it allows; years use three words, bit y-MinYear.
type Schedule struct {
	expr                         string
	second, minute, hour         uint64
	dom, month, dow              uint64
	years                        [3]uint64 // bit y-MinYear
	domRestricted, dowRestricted bool
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	fSecond = field{name: "second", min: 0, max: 59}
	fMinute = field{name: "minute", min: 0, max: 59}
	fHour   = field{name: "hour", min: 0, max: 23}
	fDom    = field{name: "day", min: 1, max: 31}
	fMonth  = field{name: "month", min: 1, max: 12, names: map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}}
	// Week: 0 is Sunday (the current SCF documentation); names avoid the
	// ambiguity an older document introduced.
	fDow = field{name: "week", min: 0, max: 6, names: map[string]int{
		"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}}
	fYear = field{name: "year", min: MinYear, max: MaxYear}
)

// Parse reads a 7-field expression (second minute hour day month week year)
// or a legacy 5-field one (minute hour day month week, firing at second 0
// of any year). Only the wildcards SCF documents are accepted: , - * /.
// When both day and week are restricted, a time matching either fires.
func Parse(expr string) (*Schedule, error) {
	fields := strings.Fields(expr)
	switch len(fields) {
	case 7:
	case 5:
		fields = append(append([]string{"0"}, fields...), "*")
	default:
		return nil, fmt.Errorf("cron %q: want 7 fields (second minute hour day month week year) or 5 (minute hour day month week), got %d", expr, len(fields))
	}
	s := &Schedule{expr: strings.Join(strings.Fields(expr), " ")}
	var err error
	parse := func(text string, f field) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = parseField(text, f)
		if err != nil {
			err = fmt.Errorf("cron %q: %w", expr, err)
		}
		return v
	}
	s.second = parse(fields[0], fSecond)
	s.minute = parse(fields[1], fMinute)
	s.hour = parse(fields[2], fHour)
	s.dom = parse(fields[3], fDom)
	s.month = parse(fields[4], fMonth)
	s.dow = parse(fields[5], fDow)
	if err != nil {
		return nil, err
	}
	if s.years, err = parseYears(fields[6]); err != nil {
		return nil, fmt.Errorf("cron %q: %w", expr, err)
	}
	s.domRestricted, s.dowRestricted = fields[3] != "*", fields[5] != "*"
	return s, nil
}

// MustParse is Parse for expressions known to be valid; it panics otherwise.
func MustParse(expr string) *Schedule {
	s, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return s
}

// String returns the expression as parsed, fields separated by one space.
func (s *Schedule) String() string { return s.expr }

// parseField reads one field of at most 64 values.
func parseField(text string, f field) (uint64, error) {
	var set uint64
	err := eachRange(text, f, func(lo, hi, step int) {
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	})
	return set, err
}

func parseYears(text string) ([3]uint64, error) {
	var set [3]uint64
	err := eachRange(text, fYear, func(lo, hi, step int) {
		for v := lo; v <= hi; v += step {
			i := v - MinYear
			set[i/64] |= 1 << uint(i%64)
		}
	})
	return set, err
}

// eachRange calls add for each comma-separated item: *, */n, a, a-b, a-b/n, a/n.
func eachRange(text string, f field, add func(lo, hi, step int)) error {
	if text == "" {
		return fmt.Errorf("%s: empty", f.name)
	}
	for _, item := range strings.Split(text, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 || n > f.max-f.min+1 {
				return fmt.Errorf("%s: step %q must be a number from 1 to %d", f.name, stepText, f.max-f.min+1)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, f); err != nil {
				return err
			}
			if hi, err = value(b, f); err != nil {
				return err
			}
			if lo > hi {
				return fmt.Errorf("%s: range %q runs backwards", f.name, rng)
			}
		default:
			v, err := value(rng, f)
			if err != nil {
				return err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		add(lo, hi, step)
	}
	return nil
}

func value(text string, f field) (int, error) {
	if v, ok := f.names[strings.ToUpper(text)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil || v < f.min || v > f.max {
		hint := ""
		if f.names != nil {
			hint = " or a name"
		}
		return 0, fmt.Errorf("%s: %q is not a value from %d to %d%s (wildcards allowed: , - * /)", f.name, text, f.min, f.max, hint)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (s *Schedule) hasYear(y int) bool {
	if y < MinYear || y > MaxYear {
		return false
	}
	i := y - MinYear
	return s.years[i/64]&(1<<uint(i%64)) != 0
}

func (s *Schedule) dayMatches(t time.Time) bool {
	d, w := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.domRestricted && s.dowRestricted {
		return d || w
	}
	return d && w
}

// Matches reports whether the schedule fires at t's second.
func (s *Schedule) Matches(t time.Time) bool {
	return s.hasYear(t.Year()) && has(s.month, int(t.Month())) && s.dayMatches(t) &&
		has(s.hour, t.Hour()) && has(s.minute, t.Minute()) && has(s.second, t.Second())
}

// Next returns the first time strictly after t, to the second and in t's
// location, at which the schedule fires; the zero time when it never fires
// again before the end of MaxYear (or never at all, e.g. 31 FEB). In a
// location with daylight saving, a repeated wall-clock hour fires once and a
// skipped one not at all; SCF evaluates timers in UTC, where neither happens.
func (s *Schedule) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	// Each step moves to the start of the next candidate unit, so the loop
	// runs at most a few hundred times per matching year.
	for t.Year() <= MaxYear {
		prev := t
		y, mo, d := t.Date()
		h, mi, _ := t.Clock()
		switch {
		case !s.hasYear(y):
			if y < MinYear {
				t = time.Date(MinYear, 1, 1, 0, 0, 0, 0, loc)
				continue
			}
			t = time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
		case !has(s.month, int(mo)):
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
		case !has(s.hour, h):
			t = time.Date(y, mo, d, h+1, 0, 0, 0, loc)
		case !has(s.minute, mi):
			t = time.Date(y, mo, d, h, mi+1, 0, 0, loc)
		default:
			if sec := nextBit(s.second, t.Second()); sec >= 0 {
				return time.Date(y, mo, d, h, mi, sec, 0, loc)
			}
			t = time.Date(y, mo, d, h, mi+1, 0, 0, loc)
		}
		if !t.After(prev) {
			// A repeated wall-clock hour (daylight saving ends) can map the
			// next unit back to its first occurrence; step past it instead.
			t = prev.Add(time.Second)
		}
	}
	return time.Time{}
}

// nextBit is the lowest set bit >= from, or -1.
func nextBit(set uint64, from int) int {
	rest := set >> uint(from) << uint(from)
	if rest == 0 {
		return -1
	}
	return bits.TrailingZeros64(rest)
}
