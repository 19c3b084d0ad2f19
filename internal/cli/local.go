package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/backupflow/backupflow/internal/local"
	"github.com/backupflow/backupflow/pkg/function"
)

func init() {
	register(command{name: "local", summary: "run the whole system locally: emulator, every function, triggers from serverless.yml", run: runLocal})
}

const localHelp = `Starts the cloud emulator and every function of serverless.yml in this process, wired
as deployed (environment, timers, the COS trigger's filter), against the emulator:
  - files written under DIR/cos/<bucket>/ are delivered as COS upload events;
  - the chat function answers signed requests on --chat-listen (test secrets, docs/local.md);
  - the drain timers fire every --tick instead of every minute (the one deliberate difference);
  - notifications are printed as they would be posted; the jobs are shown live.
Ctrl-C lets in-flight invocations finish, then exits. docs/local.md has the details.

One stack runs per state folder (DIR/local.lock holds its pid; a second one is refused).
From another terminal, "backupflow local trigger nightly" fires a timer of the running
stack now, as SCF would at its time (any timer of serverless.yml: nightly, drain-work, ...).

With --demo it runs a scripted scenario instead (a nightly run with one injected failure and
one busy instance, a .bak dropped into the bucket, a signed Slack command) and exits 0 only
if every job reached its expected outcome.`

// envFlags collects repeated --env KEY=VALUE.
type envFlags map[string]string

func (e envFlags) String() string { return fmt.Sprint(len(e), " variables") }

func (e envFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	e[k] = val
	return nil
}

func runLocal(ctx context.Context, env Env, args []string) int {
	if len(args) > 0 && args[0] == "trigger" {
		return runLocalTrigger(ctx, env, args[1:])
	}
	fs := newFlags(env, "local", "local [--demo] [--now] [--queue cmq|mem://] [flags]\n       backupflow local trigger [--dir DIR] NAME", localHelp)
	demo := fs.Bool("demo", false, "run the scripted demo and exit 0 only if every job ends as expected")
	now := fs.Bool("now", false, "fire the nightly timer once at start (otherwise it waits for its cron)")
	sls := fs.String("serverless", "serverless.yml", "the descriptor to wire from (searched for in parent folders too)")
	dir := fs.String("dir", ".backupflow", "state folder; buckets are folders under DIR/cos/ (--demo uses DIR/demo, emptied first)")
	listen := fs.String("listen", "127.0.0.1:0", "emulator address (port 0 picks a free one)")
	chat := fs.String("chat-listen", "127.0.0.1:9091", `chat function address, or "off"`)
	queue := fs.String("queue", "cmq", "cmq (TDMQ-for-CMQ on the emulator, as deployed) or mem:// (in-memory queues)")
	tick := fs.Duration("tick", 2*time.Second, "how often the drain timers fire locally (0 keeps their deployed one-minute cron)")
	jobDuration := fs.Duration("job-duration", 3*time.Second, "how long emulated backups and imports take")
	view := fs.String("view", "auto", "job view: auto (a table on a terminal, lines otherwise), table, lines or off")
	verbose := fs.Bool("verbose", false, "show the functions' info logs (default: warnings and errors only)")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --demo, give up after this long")
	extra := envFlags{}
	fs.Var(extra, "env", "KEY=VALUE set in every function's environment, after the local overrides (repeatable)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 && fs.Arg(0) == "trigger" {
		return errorf(env, ExitUsage, "local: trigger comes first: backupflow local trigger [--dir DIR] NAME")
	}
	if fs.NArg() > 0 {
		return errorf(env, ExitUsage, "local: unexpected argument %q (see backupflow local --help)", fs.Arg(0))
	}
	if *queue != "cmq" && !strings.HasPrefix(*queue, "mem:") {
		return errorf(env, ExitUsage, "local: --queue must be cmq or mem://")
	}
	path, err := findUp(*sls)
	if err != nil {
		return errorf(env, ExitConfig, "local: %s not found here or in a parent folder: run from the repository, or pass --serverless PATH", *sls)
	}
	_, jsonLogs := env.Log.Handler().(*slog.JSONHandler)
	format := "text"
	if jsonLogs {
		format = "json"
	}
	o := local.Options{Serverless: path, Dir: *dir, Listen: *listen, ChatListen: *chat, Queue: *queue, Tick: *tick,
		JobDuration: *jobDuration, FireNow: *now, Env: extra, Stdout: env.Stdout, View: *view, LogFormat: format,
		Verbose: *verbose, Log: env.Log}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *demo {
		o.Dir = filepath.Join(*dir, "demo")
		if *chat == "127.0.0.1:9091" {
			o.ChatListen = "127.0.0.1:0" // leave the usual port to a running `make run`
		}
		fmt.Fprintln(env.Stdout, "backupflow local --demo: a nightly run, an upload, a chat command and two faults")
		v := local.Demo(ctx, o, *timeout)
		v.Print(env.Stdout)
		if !v.OK() {
			return ExitFailed
		}
		return ExitOK
	}
	s, err := local.Start(ctx, o)
	if err != nil {
		return errorf(env, ExitConfig, "local: %v", err)
	}
	fmt.Fprintln(env.Stdout, "backupflow local: every function of "+path+" against the emulator")
	for _, l := range s.Summary() {
		fmt.Fprintln(env.Stdout, "  "+l)
	}
	if d := s.DropFolder(); d != "" {
		fmt.Fprintf(env.Stdout, "  try: mkdir -p %[1]s/mssql-rdc0gajn && cp my.bak %[1]s/mssql-rdc0gajn/   ·   Ctrl-C to stop\n", d)
	}
	if err := s.Run(ctx, 30*time.Second); err != nil {
		return errorf(env, ExitRuntime, "local: %v", err)
	}
	fmt.Fprintln(env.Stdout, "backupflow local: stopped")
	return ExitOK
}

// findUp looks for name in the working folder and its parents, so the
// command works from any folder of the repository.
func findUp(name string) (string, error) {
	if filepath.IsAbs(name) {
		_, err := os.Stat(name)
		return name, err
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

const localTriggerHelp = `Fires a timer trigger of the stack that "backupflow local" (make run) runs on DIR, now,
as SCF would at its time, and prints what it did. The stack's view shows the jobs.`

func runLocalTrigger(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "local trigger", "local trigger [--dir DIR] NAME", localTriggerHelp)
	dir := fs.String("dir", ".backupflow", "the running stack's state folder")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return errorf(env, ExitUsage, "local trigger: want one timer name, e.g. backupflow local trigger nightly")
	}
	name := fs.Arg(0)
	out, err := local.Trigger(ctx, *dir, name)
	var te *local.TriggerError
	switch {
	case errors.As(err, &te) && te.Status == http.StatusNotFound:
		return errorf(env, ExitUsage, "local trigger: %v", err)
	case errors.As(err, &te):
		return errorf(env, ExitFailed, "local trigger: %v", err)
	case err != nil:
		return errorf(env, ExitRuntime, "local trigger: %v", err)
	}
	var rep function.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return errorf(env, ExitRuntime, "local trigger: the stack's answer: %v", err)
	}
	if strings.EqualFold(name, "nightly") || len(rep.Jobs) > 0 || rep.Run != "" {
		fmt.Fprintln(env.Stdout, local.FiredLine(name, rep))
	} else {
		fmt.Fprintf(env.Stdout, "%s fired: %s\n", name, strings.TrimSpace(string(out)))
	}
	return ExitOK
}
