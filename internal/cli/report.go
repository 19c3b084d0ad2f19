package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
)

func init() {
	register(command{name: "report", summary: "show a nightly run from the ledger: each job's state, times, attempts and reason", run: runReport})
}

func runReport(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "report", "report [--run ID] [--json | --html FILE]",
		"Reads a nightly run from the ledger (BACKUPFLOW_LEDGER): per job its instance, state, start,\n"+
			"end, duration, attempts and the cloud's reason. --html writes one self-contained page with\n"+
			"the night as an SVG timeline (one bar per job, grouped by product, coloured by outcome).")
	runID := fs.String("run", "", "the run (nightly-YYYYMMDDTHHMMZ; default: the latest)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	htmlFile := fs.String("html", "", "write the report as an HTML page to this file")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 || (*asJSON && *htmlFile != "") {
		return errorf(env, ExitUsage, "report: takes no arguments, and one of --json or --html")
	}
	a, code := openLedgerApp(ctx, env)
	if a == nil {
		return code
	}
	v, err := a.svc.RunView(ctx, *runID)
	if err != nil {
		return errorf(env, ExitRuntime, "report: %v", err)
	}
	switch {
	case *asJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return errorf(env, ExitRuntime, "report: %v", err)
		}
		fmt.Fprintln(env.Stdout, string(b))
	case *htmlFile != "":
		b, err := v.HTML()
		if err == nil {
			err = os.WriteFile(*htmlFile, b, 0o644)
		}
		if err != nil {
			return errorf(env, ExitRuntime, "report: %v", err)
		}
		fmt.Fprintf(env.Stdout, "wrote %s: run %s, %d jobs\n", *htmlFile, v.Run, len(v.Jobs))
	default:
		fmt.Fprint(env.Stdout, v.Text())
	}
	return ExitOK
}
