package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/provider"
)

func runStatus(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "status", "status JOB | status --instance ID",
		"Shows the last known state of a job, or the recent jobs of an instance, from the ledger\n"+
			"BACKUPFLOW_LEDGER names. Unset, it is the local stack's (`make run`, `backupflow local`),\n"+
			"kept in its state folder .backupflow here or in a parent folder. An unknown job exits 2.")
	instance := fs.String("instance", "", "list the recent jobs of this instance instead")
	limit := fs.Int("limit", 10, "with --instance, how many jobs to show")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if (*instance == "") == (fs.NArg() != 1) {
		return errorf(env, ExitUsage, "status: give one job id, or --instance ID")
	}
	if *instance == "" && !jobIDArg.MatchString(fs.Arg(0)) {
		return errorf(env, ExitUsage, "status: %q is not a job id (a-z, 0-9 and -, as backup, import and every notification print it)", fs.Arg(0))
	}
	if *instance != "" {
		if _, ok := provider.ProductOf(*instance); !ok {
			return errorf(env, ExitUsage, "status: instance %q: unknown id shape (want cdb-…, mssql-…, cmgo-… or a Huawei RDS id)", *instance)
		}
	}
	getenv, where, stop, code := readLedger(env, "status")
	if getenv == nil {
		return code
	}
	defer stop()
	env.Getenv = getenv
	// status reads the ledger only: no product, so no cloud credentials.
	a, code := openApp(ctx, env, func(c *config.Config) { c.Products = nil })
	if a == nil {
		return code
	}
	fmt.Fprintf(env.Stdout, "ledger %s (%s)\n", a.Cfg.Ledger, where)
	if *instance != "" {
		jobs, err := a.Service.InstanceJobs(ctx, *instance, *limit)
		if err != nil {
			return errorf(env, ExitRuntime, "status: %v", err)
		}
		if len(jobs) == 0 {
			fmt.Fprintf(env.Stdout, "No jobs recorded for %s.\n", *instance)
			return ExitOK
		}
		for _, j := range jobs {
			if code := printJob(ctx, env, a.Service, j.JobID); code != ExitOK {
				return code
			}
		}
		return ExitOK
	}
	id := fs.Arg(0)
	if _, _, err := a.Service.State(ctx, id); errors.Is(err, flow.ErrUnknownJob) {
		hint := ""
		if _, ok := provider.ProductOf(id); ok {
			hint = fmt.Sprintf("; for an instance's jobs: backupflow status --instance %s", id)
		}
		return errorf(env, ExitUsage, "status: no job %s in %s%s", id, a.Cfg.Ledger, hint)
	}
	return printJob(ctx, env, a.Service, id)
}

// jobIDArg is what a job id can be: one ledger path segment. Anything else
// (a path, a typo with a slash) is refused before the ledger is read.
var jobIDArg = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,99}$`)

// printJob prints a job's status line and, under it, its times.
func printJob(ctx context.Context, env Env, svc *flow.Service, id string) int {
	text, err := svc.StatusText(ctx, id)
	if err != nil {
		return errorf(env, ExitRuntime, "status: %v", err)
	}
	fmt.Fprintln(env.Stdout, text)
	st, out, err := svc.State(ctx, id)
	if err != nil {
		return errorf(env, ExitRuntime, "status: %v", err)
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return t.UTC().Format(time.RFC3339)
	}
	if out != nil {
		fmt.Fprintf(env.Stdout, "  created %s, finished %s\n", stamp(out.Created), stamp(out.Finished))
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, "  created %s, last update %s, attempt %d\n", stamp(st.Created), stamp(st.Updated), st.Attempt)
	return ExitOK
}

// readLedger is the environment status and report read the ledger with. With
// BACKUPFLOW_LEDGER set, the command's own. Unset, the local stack's: the
// ledger serverless.yml names, kept in the stack's state folder, read
// through a private emulator serving that folder (the stack's own may not
// be running). stop releases that emulator.
func readLedger(env Env, cmd string) (getenv func(string) string, where string, stop func(), code int) {
	if env.Getenv("BACKUPFLOW_LEDGER") != "" {
		return env.Getenv, "BACKUPFLOW_LEDGER", func() {}, ExitOK
	}
	dir, url, err := localLedger()
	if err != nil {
		return nil, "", nil, errorf(env, ExitConfig, "%s: BACKUPFLOW_LEDGER is not set and %v: set BACKUPFLOW_LEDGER to the deployed ledger "+
			"(cos://bucket-appid/prefix or s3://bucket/prefix), or paste the export block `backupflow emulator` prints", cmd, err)
	}
	emu, err := emulator.New(emulator.Options{COSDir: filepath.Join(dir, "cos"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, "", nil, errorf(env, ExitRuntime, "%s: %v", cmd, err)
	}
	srv, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		return nil, "", nil, errorf(env, ExitRuntime, "%s: %v", cmd, err)
	}
	vars := emu.Env(srv.URL)
	vars["BACKUPFLOW_LEDGER"] = url
	vars["BACKUPFLOW_LOG_LEVEL"] = env.Getenv("BACKUPFLOW_LOG_LEVEL")
	stop = func() { _ = srv.Close(context.Background()) }
	return func(k string) string { return vars[k] }, "the local stack's, in " + dir + "; BACKUPFLOW_LEDGER is unset", stop, ExitOK
}

// localLedger finds the local stack's state folder (.backupflow, where
// `backupflow local` keeps it by default) here or in a parent folder, and
// the ledger serverless.yml gives the functions there.
func localLedger() (dir, url string, err error) {
	dir, err = findUp(".backupflow")
	if err != nil {
		return "", "", errors.New("no local stack folder (.backupflow) is here or in a parent folder")
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", "", err
	}
	sls, err := findUp("serverless.yml")
	if err != nil {
		return "", "", fmt.Errorf("serverless.yml (which names the local stack's ledger) is not here or in a parent folder")
	}
	d, err := descriptor.LoadServerless(sls)
	if err != nil {
		return "", "", err
	}
	for _, name := range d.FunctionNames() {
		if url = d.Env(name)["BACKUPFLOW_LEDGER"]; url != "" {
			break
		}
	}
	if !strings.HasPrefix(url, "cos://") {
		return "", "", fmt.Errorf("%s names no cos:// ledger for the local stack", sls)
	}
	if _, err := os.Stat(filepath.Join(dir, "cos")); err != nil {
		return "", "", fmt.Errorf("%s holds no emulated buckets (cos/): has the local stack run here?", dir)
	}
	return dir, url, nil
}
