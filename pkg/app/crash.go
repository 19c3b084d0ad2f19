//go:build !crashtest

package app

import "time"

// crashClock is the clock the deployed handler runs on: nil, meaning
// time.Now. Only crashtest builds (crash_crashtest.go) put a test's clock
// here; production binaries hold neither that code nor its variables.
func crashClock() func() time.Time { return nil }
