// Command backupflow is the operator CLI: the local stack, the emulator,
// one-shot invokes, backups, imports, status and the benchmarks.
package main

import (
	"context"
	"os"

	"github.com/backupflow/backupflow/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
