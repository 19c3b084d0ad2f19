// Command create-backup runs the nightly fan-out and starts backups and
// imports from the work queue. It is deployed as SCF `main` and Lambda `bootstrap`.
package main

import (
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
)

func main() {
	h := app.Handler("create-backup", func(a *app.App) invoke.Handler {
		return function.CreateBackup(a.Service, a.Work, function.Options{Logger: a.Log, Pace: true})
	})
	if err := start(h); err != nil {
		fmt.Fprintln(os.Stderr, "create-backup:", err)
		os.Exit(1)
	}
}
