package cli

import (
	"context"
	"fmt"
	"maps"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
)

func init() {
	register(command{name: "emulator", summary: "serve the cloud emulator (Tencent API 3.0, Huawei RDS, CMQ, SQS, COS)", run: runEmulator})
}

func runEmulator(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "emulator", "emulator [--listen HOST:PORT] [--secret-id ID --secret-key KEY] [flags]",
		"Serves every emulated cloud API on one listener until interrupted. The one key pair signs for\n"+
			"both clouds (Tencent SecretId/SecretKey and Huawei AK/SK).")
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	id := fs.String("secret-id", emulator.DefaultSecretID, "the SecretId (and Huawei AK) the emulator accepts")
	key := fs.String("secret-key", emulator.DefaultSecretKey, "the SecretKey (and Huawei SK) the emulator accepts")
	fixtures := fs.String("fixtures", "", "JSON file with the fleet (default: the built-in fleet of the seed examples)")
	duration := fs.Duration("job-duration", 3*time.Second, "how long emulated backups and imports take")
	faultRate := fs.Float64("fault-rate", 0, "share of requests to break (0..1): internal errors, 5xx, dropped connections, slow replies, throttling, busy")
	seed := fs.Uint64("seed", 1, "seed for reproducible faults")
	cosDir := fs.String("cos-dir", "", "keep emulated buckets as folders under this directory")
	noLimits := fs.Bool("no-rate-limits", false, "disable the per-action rate limits of the seeds")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *faultRate < 0 || *faultRate > 1 {
		return errorf(env, ExitUsage, "--fault-rate must be between 0 and 1")
	}
	var fleet *fixture.Set
	if *fixtures != "" {
		var err error
		if fleet, err = fixture.LoadFile(*fixtures); err != nil {
			return errorf(env, ExitConfig, "%v", err)
		}
	}
	e, err := emulator.New(emulator.Options{SecretID: *id, SecretKey: *key, Fleet: fleet, JobDuration: *duration,
		FaultRate: *faultRate, Seed: *seed, COSDir: *cosDir, DisableRateLimits: *noLimits, Logger: env.Log})
	if err != nil {
		return errorf(env, ExitConfig, "%v", err)
	}
	srv, err := e.Listen(*listen)
	if err != nil {
		return errorf(env, ExitRuntime, "%v", err)
	}
	fmt.Fprintf(env.Stdout, "backupflow emulator listening on %s\n", srv.URL)
	fmt.Fprintf(env.Stdout, "  fleet: %d instances; jobs take %s; fault rate %.2f\n", len(e.Fleet.Instances), *duration, *faultRate)
	fmt.Fprintln(env.Stdout, "# Paste into another shell to point backupflow backup, import and status at this emulator:")
	for _, l := range emulatorExports(e, srv.URL) {
		fmt.Fprintln(env.Stdout, l)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		return errorf(env, ExitRuntime, "shutdown: %v", err)
	}
	return ExitOK
}

// emulatorLedger is where the CLI records jobs against an emulator: a
// folder of its bucket, so `status` in another process reads what
// `backup --wait` wrote (a mem:// ledger dies with its process).
const emulatorLedger = "cos://backups-1250000000/backupflow"

// emulatorExports is the paste-ready block of export lines the emulator
// prints: its credentials under the names every product reads, every
// endpoint override, a ledger in its COS, and status checks quick enough
// for its short jobs. AWS key variables are left out so a paste does not
// replace the shell's own AWS credentials.
func emulatorExports(e *emulator.Emulator, url string) []string {
	vars := e.Env(url)
	for k := range vars {
		if strings.HasPrefix(k, "AWS_") {
			delete(vars, k)
		}
	}
	vars["BACKUPFLOW_LEDGER"] = emulatorLedger
	vars["BACKUPFLOW_FIRST_POLL"] = "2s"
	vars["BACKUPFLOW_POLL_MIN"] = "1s"
	keys := slices.Sorted(maps.Keys(vars))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, "export "+k+"="+shellQuote(vars[k]))
	}
	return out
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	safe := v != ""
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
