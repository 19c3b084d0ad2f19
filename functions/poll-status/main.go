// Command poll-status follows each cloud job to its end and notifies. It is
// deployed as SCF `main` and Lambda `bootstrap`.
package main

import (
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
)

func main() {
	h := app.Handler("poll-status", func(a *app.App) invoke.Handler {
		return function.PollStatus(a.Service, a.Poll, function.Options{Logger: a.Log})
	})
	if err := start(h); err != nil {
		fmt.Fprintln(os.Stderr, "poll-status:", err)
		os.Exit(1)
	}
}
