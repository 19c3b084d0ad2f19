package cli

import (
	"context"
	"fmt"
	"os/signal"
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
	fmt.Fprintf(env.Stdout, "  BACKUPFLOW_TENCENT_ENDPOINT=%s BACKUPFLOW_HUAWEI_ENDPOINT=%s BACKUPFLOW_CMQ_ENDPOINT=%s BACKUPFLOW_COS_ENDPOINT=%s\n",
		srv.Addr, srv.URL, srv.URL, srv.Addr)
	fmt.Fprintf(env.Stdout, "  fleet: %d instances; jobs take %s; fault rate %.2f\n", len(e.Fleet.Instances), *duration, *faultRate)
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
