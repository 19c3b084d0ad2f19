package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
)

func init() {
	register(command{name: "dead", summary: "list, replay or drop the jobs given up on (dead letters)", run: runDead})
}

const deadUsage = "dead list [--json] | dead replay ID|--all | dead drop ID"

func runDead(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "dead", deadUsage,
		"Jobs given up on (retry budget spent, or a message that kept failing) end dead-lettered;\n"+
			"the ledger (BACKUPFLOW_LEDGER) keeps each one's message and reason.\n\n"+
			"  list     what, why, when, tries, and whether it was replayed\n"+
			"  replay   hand the message back to the work queue as a new job with a fresh retry\n"+
			"           budget; it first adopts anything the dead job started. Idempotent: a dead\n"+
			"           letter already replayed, or whose job has another outcome, is left alone.\n"+
			"           Needs the deployed queues (BACKUPFLOW_WORK_QUEUE, BACKUPFLOW_POLL_QUEUE).\n"+
			"  drop     forget a dead letter (its job's outcome stays)\n\n"+opsHelp)
	asJSON := fs.Bool("json", false, "list: print the records as JSON")
	all := fs.Bool("all", false, "replay: every dead letter not yet replayed")
	// The subcommand comes first and its flags after it (dead list --json).
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	switch {
	case sub == "":
		fs.Usage()
		return ExitUsage
	case *asJSON && sub != "list", *all && sub != "replay":
		return errorf(env, ExitUsage, "dead %s: --json is for list, --all for replay", sub)
	}
	switch sub {
	case "list":
		return deadList(ctx, env, fs.Args(), *asJSON)
	case "replay":
		return deadReplay(ctx, env, fs.Args(), *all)
	case "drop":
		return deadDrop(ctx, env, fs.Args())
	}
	return errorf(env, ExitUsage, "dead: unknown subcommand %q (want list, replay or drop)", sub)
}

// openLedgerApp wires the system for a command that reads and writes only
// the ledger and the queues: no product, so no cloud credentials.
func openLedgerApp(ctx context.Context, env Env) (*flowApp, int) {
	a, code := openApp(ctx, env, func(c *config.Config) { c.Products = nil })
	if a == nil {
		return nil, code
	}
	return &flowApp{svc: a.Service, ledger: a.Cfg.Ledger, work: a.Cfg.WorkQueue}, ExitOK
}

type flowApp struct {
	svc          *flow.Service
	ledger, work string
}

func deadList(ctx context.Context, env Env, args []string, asJSON bool) int {
	if len(args) != 0 {
		return errorf(env, ExitUsage, "dead list: takes no arguments")
	}
	a, code := openLedgerApp(ctx, env)
	if a == nil {
		return code
	}
	dl, err := a.svc.DeadLetters(ctx)
	if err != nil {
		return errorf(env, ExitRuntime, "dead list: %v", err)
	}
	if asJSON {
		for i := range dl {
			dl[i].Msg = nil // the envelope is for replay, not for reading
		}
		if dl == nil {
			dl = []flow.DeadLetter{}
		}
		b, err := json.MarshalIndent(dl, "", "  ")
		if err != nil {
			return errorf(env, ExitRuntime, "dead list: %v", err)
		}
		fmt.Fprintln(env.Stdout, string(b))
		return ExitOK
	}
	if len(dl) == 0 {
		fmt.Fprintf(env.Stdout, "No dead letters in %s.\n", a.ledger)
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tWHAT\tWHEN\tTRIES\tSTATE\tWHY")
	for _, d := range dl {
		state := "waiting"
		if d.ReplayedAs != "" {
			state = "replayed as " + d.ReplayedAs
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.JobID, d.What, d.When.UTC().Format(time.RFC3339), d.Tries, state, oneLineText(d.Why, 160))
	}
	if err := tw.Flush(); err != nil {
		return errorf(env, ExitRuntime, "dead list: %v", err)
	}
	return ExitOK
}

func oneLineText(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

func deadReplay(ctx context.Context, env Env, args []string, all bool) int {
	if all == (len(args) == 1) || len(args) > 1 {
		return errorf(env, ExitUsage, "dead replay: give one dead letter's job id, or --all")
	}
	a, code := openLedgerApp(ctx, env)
	if a == nil {
		return code
	}
	if strings.HasPrefix(a.work, "mem://") {
		return errorf(env, ExitConfig, "dead replay: BACKUPFLOW_WORK_QUEUE is in-memory, so no deployed function would pick the replay up: set it to your cmq:// or sqs:// work queue")
	}
	ids := args
	if all {
		dl, err := a.svc.DeadLetters(ctx)
		if err != nil {
			return errorf(env, ExitRuntime, "dead replay: %v", err)
		}
		ids = nil
		for _, d := range dl {
			if d.ReplayedAs == "" && len(d.Msg) > 0 {
				ids = append(ids, d.JobID)
			}
		}
		if len(ids) == 0 {
			fmt.Fprintln(env.Stdout, "No dead letters waiting to be replayed.")
			return ExitOK
		}
	}
	exit := ExitOK
	for _, id := range ids {
		r, err := a.svc.ReplayDead(ctx, id)
		switch {
		case errors.Is(err, flow.ErrNoDeadLetter):
			fmt.Fprintf(env.Stderr, "backupflow: dead replay: no dead letter %s in %s\n", id, a.ledger)
			exit = max(exit, ExitUsage)
			continue
		case errors.Is(err, apierr.ErrInvalidInput):
			fmt.Fprintf(env.Stderr, "backupflow: dead replay: %v\n", err)
			exit = max(exit, ExitUsage)
			continue
		case err != nil:
			fmt.Fprintf(env.Stderr, "backupflow: dead replay %s: %v\n", id, err)
			exit = ExitRuntime
			continue
		}
		switch r.Status {
		case flow.Replayed:
			fmt.Fprintf(env.Stdout, "dead letter %s: replayed as job %s (queued)\n", id, r.JobID)
		case flow.AlreadyReplayed:
			fmt.Fprintf(env.Stdout, "dead letter %s: already replayed as job %s (%s); nothing sent\n", id, r.JobID, r.State)
		case flow.HasOutcome:
			fmt.Fprintf(env.Stdout, "dead letter %s: the job has an outcome (%s); nothing sent\n", id, r.State)
		}
	}
	return exit
}

func deadDrop(ctx context.Context, env Env, args []string) int {
	if len(args) != 1 {
		return errorf(env, ExitUsage, "dead drop: give one dead letter's job id")
	}
	a, code := openLedgerApp(ctx, env)
	if a == nil {
		return code
	}
	id := args[0]
	if err := a.svc.DropDead(ctx, id); err != nil {
		if errors.Is(err, flow.ErrNoDeadLetter) {
			return errorf(env, ExitUsage, "dead drop: no dead letter %s in %s", id, a.ledger)
		}
		return errorf(env, ExitRuntime, "dead drop: %v", err)
	}
	fmt.Fprintf(env.Stdout, "dead letter %s dropped\n", id)
	return ExitOK
}
