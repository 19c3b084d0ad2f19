//go:build unix

package simulate

import (
	"syscall"
	"time"
)

// cpuTime is the process's user plus system CPU time so far. Beside wall
// time it shows what a run costs on a machine others are using too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
