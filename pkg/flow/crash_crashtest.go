//go:build crashtest

package flow

import (
	"fmt"
	"os"
)

// CrashEnv names the point at which a crashtest build exits. Only binaries
// built with -tags crashtest read it (internal/reliability builds them); the
// production build has no such variable and no such code.
const CrashEnv = "BACKUPFLOW_CRASH_AT"

// crashPoint ends the process abruptly, as a killed function instance
// ends, when BACKUPFLOW_CRASH_AT names this point: "after-start" (the cloud
// job was started, nothing handed off) or "after-handoff" (the next step was
// sent, the message was neither marked done nor acknowledged) or
// "after-outcome" (the outcome was claimed, nothing notified).
func crashPoint(name string) {
	if os.Getenv(CrashEnv) == name {
		fmt.Fprintf(os.Stderr, "crashtest: exiting at %s\n", name)
		os.Exit(86)
	}
}
