// Package freshproc measures what a first call costs in a process that has
// paid no one-time cost yet: the test binary runs itself again as a child.
package freshproc

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

const envKey = "FRESHPROC_TEST"

// Allocs returns how many heap allocations fn made when it was the first
// thing the test named test did in a fresh process. fn's error fails the
// child, and so the test. In the child it does not return.
func Allocs(t *testing.T, test string, fn func() error) int {
	t.Helper()
	if os.Getenv(envKey) == test {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		err := fn()
		runtime.ReadMemStats(&m1)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("allocs=%d\n", m1.Mallocs-m0.Mallocs)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), envKey+"="+test)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), "allocs=")
	n, perr := strconv.Atoi(strings.Fields(v + " ")[0])
	if !ok || perr != nil {
		t.Fatalf("child said %q", out)
	}
	return n
}
