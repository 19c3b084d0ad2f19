// Command start-migration imports a SQL Server backup file when it lands in
// COS (or S3). It is deployed as SCF `main` and Lambda `bootstrap`.
package main

import (
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
)

func main() {
	h := app.Handler("start-migration", func(a *app.App) invoke.Handler {
		return function.StartMigration(a.Service, function.Options{Logger: a.Log})
	})
	if err := start(h); err != nil {
		fmt.Fprintln(os.Stderr, "start-migration:", err)
		os.Exit(1)
	}
}
