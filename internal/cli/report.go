package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/flow"
)

func init() {
	register(command{name: "report", summary: "show a nightly run from the ledger: each job's state, times, attempts and reason", run: runReport})
}

func runReport(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "report", "report [--run ID] [--json | --html FILE]",
		"Reads a nightly run from the ledger BACKUPFLOW_LEDGER names (unset: the local stack's, as\n"+
			"status does): per job its instance, state, start, end, duration, attempts and the cloud's\n"+
			"reason. --html writes one self-contained page with the night as an SVG timeline (one bar\n"+
			"per job, grouped by product, coloured by outcome, its queue wait in grey).")
	runID := fs.String("run", "", "the run (nightly-YYYYMMDDTHHMMZ; default: the latest)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	htmlFile := fs.String("html", "", "write the report as an HTML page to this file")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 || (*asJSON && *htmlFile != "") {
		return errorf(env, ExitUsage, "report: takes no arguments, and one of --json or --html")
	}
	// As status: unset, BACKUPFLOW_LEDGER is the local stack's, never the
	// configuration's mem:// default, which is always empty here and
	// answered "no nightly run" after a night had run in the local stack.
	getenv, where, stop, code := readLedger(env, "report")
	if getenv == nil {
		return code
	}
	defer stop()
	env.Getenv = getenv
	a, code := openLedgerApp(ctx, env)
	if a == nil {
		return code
	}
	v, err := a.svc.RunView(ctx, *runID)
	if err != nil {
		code := ExitRuntime
		if *runID != "" && errors.Is(err, flow.ErrUnknownRun) {
			code = ExitUsage // as status of an unknown job: the input names nothing
		}
		return errorf(env, code, "report: %v (ledger %s, %s)", err, a.ledger, where)
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
		jobs := fmt.Sprintf("%d jobs", len(v.Jobs))
		if len(v.Jobs) == 1 {
			jobs = "1 job"
		}
		fmt.Fprintf(env.Stdout, "wrote %s: run %s, %s\n", *htmlFile, v.Run, jobs)
	default:
		fmt.Fprint(env.Stdout, v.Text())
	}
	return ExitOK
}
