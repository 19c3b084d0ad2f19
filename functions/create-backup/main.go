// Command create-backup runs the nightly fan-out and starts backups and
// imports from the work queue. It is deployed as SCF `main` and Lambda `bootstrap`.
package main

import (
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/app"
)

// main starts the function table's entry for this directory; the test in
// functions/ fails if it wires anything else.
func main() {
	if err := start(app.Main("create-backup")); err != nil {
		fmt.Fprintln(os.Stderr, "create-backup:", err)
		os.Exit(1)
	}
}
