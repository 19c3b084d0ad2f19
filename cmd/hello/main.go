// Command hello is the smallest backupflow function: it answers {"hello":"world"}. It is the
// baseline for binary size and cold-start benchmarks, built per platform (-tags scf for SCF Go1).
package main

import (
	"context"
	"log/slog"
	"os"
)

func hello(context.Context, []byte) ([]byte, error) {
	return []byte(`{"hello":"world"}`), nil
}

func main() {
	if err := start(hello); err != nil {
		slog.Error("hello stopped", "err", err)
		os.Exit(1)
	}
}
