package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

func init() {
	register(command{name: "retention", summary: "preview which backupflow backups retention would delete, and why each other is kept", run: runRetention})
}

type instanceList []string

func (l *instanceList) String() string { return strings.Join(*l, ",") }
func (l *instanceList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func runRetention(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "retention", "retention --dry-run [--instance ID]... [--keep-last N] [--keep-days D] [--json]",
		"Lists, per instance, each backup retention would delete with the rule that selects it and\n"+
			"each backup it keeps with the reason. Only backups the ledger's own jobs made under their\n"+
			"names are ever candidates; automatic, hand-made and other tools' backups are always kept.\n"+
			"Without --instance it covers the nightly scope (BACKUPFLOW_TARGETS and discovery by tag).\n"+
			"The rule is BACKUPFLOW_RETENTION (per target: \"retention\" in BACKUPFLOW_TARGETS);\n"+
			"--keep-last/--keep-days preview another rule instead. Nothing is deleted: deletion is the\n"+
			"deployed retention step's, turned on by BACKUPFLOW_RETENTION_DELETE=true.\n\n"+opsHelp)
	var instances instanceList
	fs.Var(&instances, "instance", "an instance to plan (repeatable); default: the nightly scope")
	dry := fs.Bool("dry-run", false, "list what would be deleted and kept (required: this command never deletes)")
	keepLast := fs.Int("keep-last", 0, "preview this rule: keep the newest N successful backupflow backups")
	keepDays := fs.Int("keep-days", 0, "preview this rule: keep backupflow backups younger than D days")
	asJSON := fs.Bool("json", false, "print the plans as JSON")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if !*dry {
		return errorf(env, ExitUsage, "retention: give --dry-run; this command only previews (the deployed step deletes, once BACKUPFLOW_RETENTION_DELETE=true)")
	}
	var q flow.RetentionQuery
	q.Instances = instances
	if *keepLast != 0 || *keepDays != 0 {
		r := retention.Rule{KeepLast: *keepLast, KeepDays: *keepDays}
		if err := r.Validate(); err != nil {
			return errorf(env, ExitUsage, "retention: %v", err)
		}
		q.Rule = &r
	}
	// Only the products of the named instances need credentials.
	narrow := func(c *config.Config) {
		if len(instances) == 0 {
			return
		}
		var ps []string
		for _, id := range instances {
			if p, ok := provider.ProductOf(id); ok && slices.Contains(c.Products, string(p)) && !slices.Contains(ps, string(p)) {
				ps = append(ps, string(p))
			}
		}
		if len(ps) > 0 {
			c.Products = ps
		}
	}
	a, code := openApp(ctx, env, narrow)
	if a == nil {
		return code
	}
	rep, err := a.Service.RetentionPlans(ctx, q)
	if err != nil {
		return errorf(env, ExitRuntime, "retention: %v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return errorf(env, ExitRuntime, "retention: %v", err)
		}
		return ExitOK
	}
	printRetention(env, rep)
	return ExitOK
}

func printRetention(env Env, rep flow.RetentionReport) {
	w := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	total := 0
	for _, p := range rep.Plans {
		n := len(p.Deletes())
		total += n
		fmt.Fprintf(w, "%s (rule %s): %d backups listed, %d made by backupflow, %d to delete\n", p.Instance, p.Rule, len(p.Items), p.Owned, n)
		for _, v := range p.Items {
			verb := "keep"
			if v.Delete {
				verb = "delete"
			}
			name := v.Backup.Name
			if name == "" {
				name = "-"
			}
			created := "-"
			if !v.Backup.Created.IsZero() {
				created = v.Backup.Created.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", verb, v.Backup.ID, name, created, v.Reason)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%s: not planned: %s\n", s.Instance, s.Reason)
	}
	_ = w.Flush()
	fmt.Fprintf(env.Stdout, "dry run: %d backups would be deleted", total)
	if rep.Withheld > 0 {
		fmt.Fprintf(env.Stdout, " (%d more selected, held back by the per-run cap BACKUPFLOW_RETENTION_SHARE)", rep.Withheld)
	}
	fmt.Fprintln(env.Stdout, "; nothing was deleted.")
}
