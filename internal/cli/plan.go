package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/backupflow/backupflow/internal/simulate"
	"github.com/backupflow/backupflow/pkg/flow"
)

func init() {
	register(command{name: "plan", summary: "show what tonight's nightly run will back up and skip, its pacing and window", run: runPlan})
}

func runPlan(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "plan", "plan [--at TIME] [--targets ID,...] [--json]",
		"Resolves the nightly run's targets exactly as the run does (BACKUPFLOW_TARGETS, discovery by\n"+
			"BACKUPFLOW_DISCOVER_TAG, the selection) and lists each job with its method and create time,\n"+
			"each skip with its reason, the pacing per product and a predicted window: a simulated\n"+
			"night of these jobs, each taking its instance's recorded duration. It creates nothing\n"+
			"and writes nothing: it calls the products' list APIs and reads the ledger's duration\n"+
			"history.\n\n"+opsHelp)
	at := fs.String("at", "", "the run's time, RFC 3339 (default: now); it names the run and its job ids")
	targets := fs.String("targets", "", "narrow to these instance ids, as a timer selection does")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return errorf(env, ExitUsage, "plan: takes no arguments")
	}
	when := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return errorf(env, ExitUsage, "plan: --at %q: want RFC 3339, e.g. 2026-12-04T01:00:00Z", *at)
		}
		when = t
	}
	a, code := openApp(ctx, env, nil)
	if a == nil {
		return code
	}
	p, err := a.Service.Plan(ctx, when, flow.Selection{Targets: splitList(*targets)})
	if err != nil {
		return errorf(env, ExitRuntime, "plan: %v", err)
	}
	// The window is a simulated night of these jobs with their recorded
	// durations, through the deployed functions (internal/simulate).
	if p.Window, err = simulate.Predict(ctx, p, a.Cfg.Flow()); err != nil {
		return errorf(env, ExitRuntime, "plan: predicting the window: %v", err)
	}
	if *asJSON {
		if p.Jobs == nil {
			p.Jobs = []flow.PlannedJob{}
		}
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return errorf(env, ExitRuntime, "plan: %v", err)
		}
		fmt.Fprintln(env.Stdout, string(b))
		return ExitOK
	}
	fmt.Fprint(env.Stdout, p.Text())
	return ExitOK
}
