package provider

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/internal/freshproc"
)

// TestShapesAreThePatterns: each hand-written check accepts exactly what
// the pattern it replaced accepted, on prefixes and lengths around every
// bound and bodies drawn from an alphabet that reaches each branch.
func TestShapesAreThePatterns(t *testing.T) {
	tencentID := func(p Product) func(string) bool {
		return func(s string) bool { return ValidateInstanceID(p, s) == nil }
	}
	for _, tc := range []struct {
		pattern string
		check   func(string) bool
	}{
		{`^[0-9a-f]{32}in0[0-9]$`, huaweiID},
		{`^cdb-[a-z0-9]{8,12}$`, tencentID(MySQL)},
		{`^mssql-[a-z0-9]{8,12}$`, tencentID(SQLServer)},
		{`^cmgo-[a-z0-9]{8,12}$`, tencentID(MongoDB)},
		{`^[A-Za-z][A-Za-z0-9_-]{3,63}$`, huaweiName},
		{`^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$`, tencentName},
		// tcmongodb's async ids and tcsqlserver's migration ids.
		{`^[A-Za-z0-9_-]{1,64}$`, func(s string) bool { return IsWord(s, 64) }},
	} {
		re := regexp.MustCompile(tc.pattern)
		rng := rand.New(rand.NewPCG(1, 2))
		alphabet := []string{"a", "f", "g", "z", "A", "Z", "0", "9", "-", "_", ".", " ", "é", "\xff"}
		n := 0
		for _, prefix := range []string{"", "cdb-", "mssql-", "cmgo-", "cdb", "a", "Z", "0", "-", "_", "."} {
			for length := 0; length <= 70; length++ {
				for range 40 {
					var b strings.Builder
					b.WriteString(prefix)
					for range length {
						if rng.IntN(3) == 0 {
							b.WriteString(alphabet[rng.IntN(len(alphabet))])
						} else {
							b.WriteByte("0123456789abcdef"[rng.IntN(16)])
						}
					}
					for _, s := range []string{b.String(), b.String() + "in0" + strconv.Itoa(rng.IntN(10)), b.String() + "in1"} {
						n++
						if got, want := tc.check(s), re.MatchString(s); got != want {
							t.Errorf("%s: %q: check says %v, the pattern %v", tc.pattern, s, got, want)
						}
					}
				}
			}
		}
		if n < 10000 {
			t.Fatalf("only %d cases", n)
		}
	}
}

// TestFirstValidationIsCheap: a spec's first validation in a process, which
// the first create of every function does, compiles nothing. Measured in a
// child process, where no earlier test has paid a one-time cost: the
// patterns made 1,095 allocations there.
func TestFirstValidationIsCheap(t *testing.T) {
	n := freshproc.Allocs(t, "TestFirstValidationIsCheap", func() error {
		return errors.Join(ValidateInstanceID(MySQL, "cdb-abcd1234"), ValidateName(MySQL, "backupflow-jabc"),
			ValidateInstanceID(HuaweiRDS, strings.Repeat("a", 32)+"in01"), ValidateName(HuaweiRDS, "backupflow-jabc"))
	})
	if n > 5 {
		t.Errorf("the first validations made %d allocations; want none to speak of", n)
	}
}
