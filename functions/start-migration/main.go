// Command start-migration imports a SQL Server backup file when it lands in
// COS (or S3). It is deployed as SCF `main` and Lambda `bootstrap`.
package main

import (
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/app"
)

// main starts the function table's entry for this directory; the test in
// functions/ fails if it wires anything else.
func main() {
	if err := start(app.Main("start-migration")); err != nil {
		fmt.Fprintln(os.Stderr, "start-migration:", err)
		os.Exit(1)
	}
}
