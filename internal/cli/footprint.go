package cli

import (
	"context"
	"encoding/json"

	"github.com/backupflow/backupflow/internal/footprint"
)

func init() {
	register(command{name: "footprint", summary: "measure every function's size, cold start, warm overhead and peak RSS beside a minimal function", run: runFootprint})
}

func runFootprint(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "footprint", "footprint [--runs N] [--root DIR] [--json]",
		"Builds every function for SCF (linux/amd64) and Lambda (linux/arm64) with the Makefile's flags and\n"+
			"reports stripped size; builds them for this host and reports cold start, warm invocation\n"+
			"overhead and peak RSS (medians of N runs), each beside cmd/hello. Needs the Go toolchain and the\n"+
			"module source (run it from the repository root).")
	runs := fs.Int("runs", 10, "cold starts per binary")
	root := fs.String("root", ".", "module root")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	rs, err := footprint.Run(ctx, footprint.Options{Root: *root, Runs: *runs, Log: env.Stderr})
	if err != nil {
		return errorf(env, ExitRuntime, "%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rs); err != nil {
			return errorf(env, ExitRuntime, "%v", err)
		}
		return ExitOK
	}
	footprint.Print(env.Stdout, rs)
	return ExitOK
}
