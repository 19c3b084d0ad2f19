package chatapp

import (
	"regexp"
	"strings"
	"testing"
)

// TestRunNameIsThePattern: the hand-written check accepts exactly what the
// pattern it replaces accepted, on edges and on every string of up to four
// characters over an alphabet that reaches each branch.
func TestRunNameIsThePattern(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,99}$`)
	cases := []string{"", "-", "nightly-20261204T0100Z", "a", "a-", "-a", "a--b", "a_b", "a/b", "a b", "é",
		"a" + strings.Repeat("-", 99), "a" + strings.Repeat("b", 100), strings.Repeat("Z", 100)}
	var gen func(string, int)
	gen = func(prefix string, n int) {
		cases = append(cases, prefix)
		if n == 0 {
			return
		}
		for _, c := range []string{"a", "Z", "0", "-", "_", ".", "\xff"} {
			gen(prefix+c, n-1)
		}
	}
	gen("", 4)
	for _, s := range cases {
		if got, want := validRunName(s), re.MatchString(s); got != want {
			t.Errorf("validRunName(%q) = %v; the pattern says %v", s, got, want)
		}
	}
}
