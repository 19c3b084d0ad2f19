package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

func init() {
	register(command{name: "backup", summary: "back up one instance now (optionally wait for the result)", run: runBackup})
	register(command{name: "import", summary: "import a SQL Server .bak from COS/S3 into an instance", run: runImport})
	register(command{name: "status", summary: "show a job's state", run: runStatus})
}

const opsHelp = `Configuration comes from the environment, as for the functions (docs/operations.md):
credentials TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY (Huawei: HUAWEICLOUD_SDK_AK/SK/PROJECT_ID),
BACKUPFLOW_TENCENT_ENDPOINT / BACKUPFLOW_HUAWEI_ENDPOINT to use an emulator instead of the real clouds.`

// queueHelp is for the commands that start jobs (backup, import).
const queueHelp = "\nWithout --wait the job is handed to the deployed system through BACKUPFLOW_WORK_QUEUE."

func runBackup(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "backup", "backup --instance ID [--method M] [--databases a,b] [--keep-until-gone] [--retention-days N] [--individually] [--wait]",
		"Backs up one instance with the same flow the nightly run uses.\n\n"+opsHelp+queueHelp)
	instance := fs.String("instance", "", "instance id (cdb-…, mssql-…, cmgo-… or a Huawei RDS id)")
	method := fs.String("method", "", "mysql/mongodb backup method: logical, physical or snapshot")
	dbs := fs.String("databases", "", "comma-separated databases (SQL Server multi-database / Huawei SQL Server partial backup)")
	keep := fs.Bool("keep-until-gone", false, "sqlserver: keep the backup until the instance is gone (StorageStrategy 1)")
	retention := fs.Int("retention-days", 0, "mongodb: BackupRetentionDays: 1-7300, -1 long-term policy, -2 forever (0: the configured days)")
	individually := fs.Bool("individually", false, "huawei-rds: back each of --databases up on its own (backup_database_individually)")
	wait := fs.Bool("wait", false, "run the job here and wait for its result, printing progress")
	timeout := fs.Duration("timeout", 6*time.Hour, "with --wait, give up after this long")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *instance == "" {
		return errorf(env, ExitUsage, "backup: --instance is required")
	}
	req := flow.Request{ID: []string{"cli", "backup", *instance, nonce()}, Op: provider.Backup, Instance: *instance,
		Method: *method, Databases: splitList(*dbs), KeepUntilGone: *keep, RetentionDays: *retention, Individually: *individually,
		Origin: job.Origin{Source: "cli"}}
	return runJob(ctx, env, req, *wait, *timeout)
}

func runImport(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "import", "import --object cos://bucket/key --instance ID [--wait] | import --rerun JOB [--wait]",
		"Imports a native SQL Server backup file into a TencentDB for SQL Server instance (a full\n"+
			"backup migration). The file is presigned for a short time; it is never logged.\n\n"+
			"--rerun JOB imports an ended import job's object into its instance again, as a new job:\n"+
			"uploading identical bytes again does not (same ETag, same job), by design.\n\n"+opsHelp+queueHelp)
	object := fs.String("object", "", "the .bak: cos://bucket-appid/key, s3://bucket/key or bucket/key")
	instance := fs.String("instance", "", "the SQL Server instance to import into (mssql-…)")
	rerun := fs.String("rerun", "", "import the object of this ended import job again, as a new job")
	wait := fs.Bool("wait", false, "run the job here and wait for its result, printing progress")
	timeout := fs.Duration("timeout", 12*time.Hour, "with --wait, give up after this long")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *rerun != "" {
		if *object != "" || *instance != "" {
			return errorf(env, ExitUsage, "import: --rerun takes the object and instance from the job; give neither --object nor --instance")
		}
		return rerunImport(ctx, env, *rerun, *wait, *timeout)
	}
	if *object == "" || *instance == "" {
		return errorf(env, ExitUsage, "import: --object and --instance are required (or --rerun JOB)")
	}
	if isLocalPath(*object) {
		base := filepath.Base(*object)
		return errorf(env, ExitUsage, "import: --object %s is a local path, but the cloud imports from COS or S3: upload the file first "+
			"(e.g. coscli cp %s cos://<bucket>/imports/%s) and pass cos://<bucket>/imports/%s; against `backupflow emulator --cos-dir DIR`, "+
			"copy it to DIR/backups-1250000000/imports/%s (docs/operations.md)", *object, *object, base, base, base)
	}
	req := flow.Request{ID: []string{"cli", "import", *object, *instance, nonce()}, Op: provider.Import, Instance: *instance,
		Object: *object, Origin: job.Origin{Source: "cli"}}
	if code, ok := checkObject(ctx, env, req.Object); !ok {
		return code
	}
	return runJob(ctx, env, req, *wait, *timeout)
}

// rerunImport reads the ended job from the ledger and imports its object
// again as a new job (its own nonce: every --rerun is a new attempt).
func rerunImport(ctx context.Context, env Env, jobID string, wait bool, timeout time.Duration) int {
	a, code := openApp(ctx, env, nil)
	if a == nil {
		return code
	}
	req, err := a.Service.RerunImport(ctx, jobID)
	if err != nil {
		if errors.Is(err, apierr.ErrInvalidInput) {
			return errorf(env, ExitUsage, "import: %v", err)
		}
		return errorf(env, ExitRuntime, "import: %v", err)
	}
	req.ID, req.Origin = []string{"cli", "rerun", jobID, nonce()}, job.Origin{Source: "cli"}
	if code, ok := checkObject(ctx, env, req.Object); !ok {
		return code
	}
	fmt.Fprintf(env.Stdout, "rerun of job %s: %s into %s\n", jobID, req.Object, req.Instance)
	return runJob(ctx, env, req, wait, timeout)
}

// openApp loads the configuration and wires the system; with private set,
// the queues are private in-memory ones so the job runs in this process.
func openApp(ctx context.Context, env Env, private func(*config.Config)) (*app.App, int) {
	// The command's environment, not the process's: the one loader, so an
	// in-process caller (tests, the local stack) configures what it runs.
	cfg, err := config.LoadFrom(env.Getenv)
	if err != nil {
		return nil, errorf(env, ExitConfig, "%v", err)
	}
	if private != nil {
		private(&cfg)
	}
	a, err := app.Open(ctx, cfg, app.Options{Function: "cli", Getenv: env.Getenv, Stdout: env.Stdout, Logger: env.Log})
	if err != nil {
		return nil, errorf(env, ExitConfig, "%v", err)
	}
	return a, ExitOK
}

func runJob(ctx context.Context, env Env, req flow.Request, wait bool, timeout time.Duration) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var private func(*config.Config)
	if wait {
		run := "cli-" + nonce()
		private = func(c *config.Config) {
			c.WorkQueue, c.PollQueue, c.DeadQueue = "mem://"+run+"-work", "mem://"+run+"-poll", "mem://"+run+"-dead"
			c.Notify = "print:"
		}
	}
	// One instance, one product: only its credentials are needed, so a
	// MySQL backup does not fail for want of Huawei keys.
	product := func(c *config.Config) {
		if p, ok := provider.ProductOf(req.Instance); ok && slices.Contains(c.Products, string(p)) {
			c.Products = []string{string(p)}
		}
		if private != nil {
			private(c)
		}
	}
	var last *answers
	if wait {
		// The flow's INFO lines (cloud job started, will retry, job
		// finished) say again what the progress line and the outcome
		// already show on stdout, so on a command a person watches they
		// are noise on stderr: a --wait run logs warnings and errors
		// only, unless --log-level asks for more. The progress keeps the
		// retries' answers whatever the level (answers sees every record).
		// BACKUPFLOW_LOG_LEVEL stays the functions' setting: it is in the
		// deployed configuration a user may have exported, and the CLI's
		// own level is the flag.
		if !env.levelGiven {
			env = env.withLevel(slog.LevelWarn)
		}
		last = newAnswers(env.Log.Handler())
		env.Log = slog.New(last)
	}
	a, code := openApp(ctx, env, product)
	if a == nil {
		return code
	}
	if !wait && strings.HasPrefix(a.Cfg.WorkQueue, "mem://") {
		return errorf(env, ExitConfig, "BACKUPFLOW_WORK_QUEUE is in-memory, so no deployed function would pick the job up: use --wait, or set it to your cmq:// or sqs:// work queue")
	}
	if req.Op == provider.Backup {
		if code, ok := checkInstance(ctx, env, a, req.Instance); !ok {
			return code
		}
	}
	id, err := a.Service.Enqueue(ctx, req)
	if err != nil {
		if errors.Is(err, apierr.ErrInvalidInput) {
			return errorf(env, ExitUsage, "%v", err)
		}
		return errorf(env, ExitRuntime, "%v", err)
	}
	fmt.Fprintf(env.Stdout, "job %s: %s %s queued\n", id, req.Op, req.Instance)
	if !wait {
		return ExitOK
	}
	return waitJob(ctx, env, a, id, timeout, last)
}

func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
