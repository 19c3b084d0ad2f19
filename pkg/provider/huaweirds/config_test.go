package huaweirds

import (
	"regexp"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/internal/freshproc"
)

// TestShapesAreTheRegexps: the hand-written checks (project id, region,
// backup id) accept exactly what the patterns they replace accepted, on
// hand-picked edges and on every string of up to four characters over an
// alphabet that reaches each branch.
func TestShapesAreTheRegexps(t *testing.T) {
	project := regexp.MustCompile(`^[0-9a-zA-Z]{1,64}$`)
	backupID := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
	region := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	cases := []string{"", "-", "cn-north-4", "ap-southeast-1", "cn--north", "-cn", "cn-", "CN-north", "cn_north", "cn north",
		"é", "cn-nörth", strings.Repeat("a", 64), strings.Repeat("a", 65), "a" + strings.Repeat("-", 63), "-" + strings.Repeat("a", 63), strings.Repeat("Z9", 32), "0483b6b16e954cb88930a360d2c4e663"}
	alphabet := []string{"a", "Z", "0", "-", "_", " ", "\xff"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		cases = append(cases, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 4)
	for _, s := range cases {
		if got, want := validProjectID(s), project.MatchString(s); got != want {
			t.Errorf("validProjectID(%q) = %v; the pattern says %v", s, got, want)
		}
		if got, want := validRegion(s), region.MatchString(s); got != want {
			t.Errorf("validRegion(%q) = %v; the pattern says %v", s, got, want)
		}
		if got, want := validBackupID(s), backupID.MatchString(s); got != want {
			t.Errorf("validBackupID(%q) = %v; the pattern says %v", s, got, want)
		}
	}
}

// TestNewIsCheapInAFreshProcess: building the provider is part of every
// function's first invocation, so it must not compile anything. Measured in
// a child process, where no earlier test has paid a one-time cost for it:
// compiling the project id's pattern made 803 allocations.
func TestNewIsCheapInAFreshProcess(t *testing.T) {
	cfg := Config{AK: testAK, SK: testSK, ProjectID: project, Region: "cn-north-4", Endpoint: "127.0.0.1:9"}
	n := freshproc.Allocs(t, "TestNewIsCheapInAFreshProcess", func() error { _, err := New(cfg); return err })
	if n > 20 {
		t.Errorf("the first New made %d allocations; want at most 20 (a struct, a client, the endpoint string)", n)
	}
}
