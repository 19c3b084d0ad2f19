package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/backupflow/backupflow/internal/simulate"
	"github.com/backupflow/backupflow/pkg/retention"
)

func init() {
	register(command{name: "simulate", summary: "simulate nightly backups of a large fleet on a virtual clock, with baselines", run: runSimulate})
}

func runSimulate(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "simulate", "simulate [--instances N] [--mix mysql=0.4,...] [--faults RATE] [--duplicates RATE] [flags]",
		"Runs the real flow code, queue, ledger and provider adapters against the emulator on a virtual\n"+
			"clock, for a fleet of N instances, and the same nights through two baseline strategies (a 30 s\n"+
			"fixed-interval poller and a 10-minute re-scan). Prints makespan, calls, latency and cost per job.")
	n := fs.Int("instances", 1000, "fleet size")
	mix := fs.String("mix", "mysql=0.4,sqlserver=0.3,mongodb=0.2,huawei-rds=0.1", "product shares")
	faults := fs.Float64("faults", 0, "share of cloud calls broken (internal errors, 5xx, drops, throttling, busy)")
	dups := fs.Float64("duplicates", 0, "share of queue messages delivered twice")
	seed := fs.Uint64("seed", 1, "seed for durations, faults and duplicates")
	nights := fs.Int("nights", 2, "nights to simulate (the second uses the first night's durations)")
	mem := fs.Int("memory-mb", 64, "function memory for the GB-s estimate")
	strategies := fs.String("strategies", "backupflow,fixed-30s,rescan-10m", "strategies to run")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	rule := fs.String("retention", "", "instead, simulate retention with this rule (keep-last=N) over --nights nights (default 30) of one emulator that keeps every backup; --mix defaults to mysql=0.8,huawei-rds=0.2")
	share := fs.Float64("retention-share", 0.5, "with --retention: the most one run deletes, as a share of the fleet's backupflow backups")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	defer simulationGC(env.Getenv)()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return errorf(env, ExitRuntime, "%v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return errorf(env, ExitRuntime, "%v", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *rule != "" {
		return runSimulateRetention(ctx, env, fs, *rule, *share, *n, *mix, *faults, *dups, *seed, *nights, *asJSON)
	}
	m, err := simulate.ParseMix(*mix)
	if err != nil {
		return errorf(env, ExitUsage, "--mix: %v", err)
	}
	if *n <= 0 || *nights <= 0 {
		return errorf(env, ExitUsage, "--instances and --nights must be positive")
	}
	rep, err := simulate.Run(ctx, simulate.Options{Instances: *n, Mix: m, Faults: *faults, Duplicates: *dups, Seed: *seed,
		Nights: *nights, MemoryMB: *mem, Strategies: splitList(*strategies)})
	if err != nil {
		return errorf(env, ExitRuntime, "%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return errorf(env, ExitRuntime, "%v", err)
		}
		return ExitOK
	}
	rep.Print(env.Stdout)
	if f, ok := rep.Find(simulate.Flow, 1); ok {
		var wall, cpu time.Duration
		for _, x := range rep.Nights {
			if x.Strategy == simulate.Flow {
				wall, cpu = wall+x.Wall, cpu+x.CPU
			}
		}
		fmt.Fprintf(env.Stdout, "backupflow strategy wall time for %d instances × %d nights: %s (CPU %s)\n", f.Jobs, *nights, wall.Round(time.Millisecond), cpu.Round(time.Millisecond))
	}
	return ExitOK
}

// simulationGC collects garbage less often while simulating, unless GOGC
// or GOMEMLIMIT says otherwise, and returns what restores the settings.
// The live heap of a 10,000-instance night is ~120 MB (emulator, ledger,
// queues), which the default GOGC=100 marked about 100 times in a run; at
// 400 the 10,000 × 2-night run took 18.5–18.8 s of CPU against 20.7–23.3
// (docs/benchmarks.md), for 0.7–0.8 GB of peak memory. The soft limit
// keeps a much larger fleet from growing the heap to 5× its live size.
func simulationGC(getenv func(string) string) (restore func()) {
	restore = func() {}
	if getenv("GOGC") == "" {
		pct := debug.SetGCPercent(400)
		restore = func() { debug.SetGCPercent(pct) }
	}
	if getenv("GOMEMLIMIT") == "" {
		lim := debug.SetMemoryLimit(4 << 30)
		prev := restore
		restore = func() { debug.SetMemoryLimit(lim); prev() }
	}
	return restore
}

func runSimulateRetention(ctx context.Context, env Env, fs *flag.FlagSet, ruleText string, share float64, n int, mixText string,
	faults, dups float64, seed uint64, nights int, asJSON bool) int {
	rule, err := retention.Parse(ruleText)
	if err != nil || !rule.Enabled() {
		return errorf(env, ExitUsage, "--retention: want keep-last=N (%v)", err)
	}
	o := simulate.RetentionOptions{Instances: n, Faults: faults, Duplicates: dups, Seed: seed, Rule: rule, Share: share}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["nights"] {
		o.Nights = nights
	}
	if set["mix"] {
		if o.Mix, err = simulate.ParseMix(mixText); err != nil {
			return errorf(env, ExitUsage, "--mix: %v", err)
		}
	}
	if n <= 0 || !(share > 0 && share <= 1) {
		return errorf(env, ExitUsage, "--instances must be positive and --retention-share within (0, 1]")
	}
	rep, err := simulate.Retention(ctx, o)
	if err != nil {
		return errorf(env, ExitRuntime, "%v", err)
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return errorf(env, ExitRuntime, "%v", err)
		}
		return ExitOK
	}
	rep.Print(env.Stdout)
	return ExitOK
}
