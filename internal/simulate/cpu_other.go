//go:build !unix

package simulate

import "time"

// cpuTime is not measured here: the CPU time rows read 0.
func cpuTime() time.Duration { return 0 }
