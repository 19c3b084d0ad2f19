package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// Exit codes, documented in docs/operations.md.
const (
	ExitOK      = 0 // success; with --wait, the job succeeded
	ExitFailed  = 1 // a job (or the demo) did not reach its expected outcome
	ExitUsage   = 2 // bad command line
	ExitConfig  = 3 // missing or invalid configuration or credentials
	ExitRuntime = 4 // an error while running (network, cloud, queue)
)

// Env is what a command gets from the process.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	Getenv         func(string) string
	Log            *slog.Logger
	// logFormat and levelGiven let a command pick its own default level:
	// --wait logs at warn unless --log-level was given (runJob says why).
	logFormat  string
	levelGiven bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) int
}

var commands = map[string]command{}

// register adds a command; each command's file registers itself.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// Run runs the command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	env := Env{Stdout: stdout, Stderr: stderr, Stdin: os.Stdin, Getenv: getenv}
	global := flag.NewFlagSet("backupflow", flag.ContinueOnError)
	global.SetOutput(stderr)
	logFormat := global.String("log-format", "text", "log format: text or json")
	logLevel := global.String("log-level", "info", "log level: debug, info, warn or error (a --wait run: warn unless given)")
	showVersion := global.Bool("version", false, "print the version and exit")
	global.Usage = func() { usage(stderr) }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, Version())
		return ExitOK
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) > 1 {
			if c, ok := commands[rest[1]]; ok {
				return c.run(ctx, envWithLog(env, *logFormat, *logLevel), []string{"--help"})
			}
		}
		usage(stdout)
		if len(rest) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "backupflow: unknown command %q\n\n", rest[0])
		usage(stderr)
		return ExitUsage
	}
	if *logFormat != "text" && *logFormat != "json" {
		fmt.Fprintf(stderr, "backupflow: --log-format must be text or json\n")
		return ExitUsage
	}
	if err := new(slog.Level).UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "backupflow: --log-level must be debug, info, warn or error (got %q)\n", *logLevel)
		return ExitUsage
	}
	global.Visit(func(f *flag.Flag) { env.levelGiven = env.levelGiven || f.Name == "log-level" })
	return c.run(ctx, envWithLog(env, *logFormat, *logLevel), rest[1:])
}

func envWithLog(env Env, format, level string) Env {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	env.logFormat = format
	return env.withLevel(lv)
}

// withLevel is env logging at lv, in its format, to its stderr.
func (env Env) withLevel(lv slog.Level) Env {
	opts := &slog.HandlerOptions{Level: lv}
	if env.logFormat == "json" {
		env.Log = slog.New(slog.NewJSONHandler(env.Stderr, opts))
	} else {
		env.Log = slog.New(slog.NewTextHandler(env.Stderr, opts))
	}
	return env
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: backupflow [--log-format text|json] [--log-level LEVEL] [--version] <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'backupflow <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 job failed, 2 usage, 3 configuration, 4 runtime error.")
}

// newFlags returns a command's flag set with a --help that prints the
// summary, usage line and flags.
func newFlags(env Env, name, usageLine, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: backupflow %s\n\n%s\n\nflags:\n", usageLine, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; ok false means return code.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	return 0, true
}

func errorf(env Env, code int, format string, args ...any) int {
	fmt.Fprintf(env.Stderr, "backupflow: "+format+"\n", args...)
	return code
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
