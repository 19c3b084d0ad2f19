// Command poll-status follows each cloud job to its end and notifies. It is
// deployed as SCF `main` and Lambda `bootstrap`.
package main

import (
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/app"
)

// main starts the function table's entry for this directory; the test in
// functions/ fails if it wires anything else.
func main() {
	if err := start(app.Main("poll-status")); err != nil {
		fmt.Fprintln(os.Stderr, "poll-status:", err)
		os.Exit(1)
	}
}
