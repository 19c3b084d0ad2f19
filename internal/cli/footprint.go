package cli

import (
	"context"
	"encoding/json"

	"github.com/backupflow/backupflow/internal/footprint"
)

func init() {
	register(command{name: "footprint", summary: "measure every function's size, cold start, warm overhead and peak RSS beside a minimal function, and what each cloud SDK weighs", run: runFootprint})
}

func runFootprint(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "footprint", "footprint [--runs N] [--root DIR] [--json]",
		"Builds every function for SCF (linux/amd64) and Lambda (linux/arm64) with the Makefile's flags and\n"+
			"reports stripped size; builds them for this host and reports cold start, warm invocation\n"+
			"overhead and peak RSS (medians of N runs), each beside cmd/hello. Then weighs each cloud SDK the\n"+
			"functions link beside the Huawei SDK (interop/go.mod): module download (the zips in the module\n"+
			"cache), code and init time in create-backup, and the download a fresh clone needs for the CLI.\n"+
			"Offline (GOPROXY=off). Needs the Go toolchain and the module source (run it from the repository root).")
	runs := fs.Int("runs", 10, "cold starts per binary")
	root := fs.String("root", ".", "module root")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	o := footprint.Options{Root: *root, Runs: *runs, Log: env.Stderr}
	rs, err := footprint.Run(ctx, o)
	if err != nil {
		return errorf(env, ExitRuntime, "%v", err)
	}
	deps, err := footprint.Weigh(ctx, o)
	if err != nil {
		return errorf(env, ExitRuntime, "dependencies: %v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Functions    []footprint.Result `json:"functions"`
			Dependencies footprint.Deps     `json:"dependencies"`
		}{rs, deps}); err != nil {
			return errorf(env, ExitRuntime, "%v", err)
		}
		return ExitOK
	}
	footprint.Print(env.Stdout, rs)
	footprint.PrintDeps(env.Stdout, deps)
	return ExitOK
}
