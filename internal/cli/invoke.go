package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/local"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke/scfinvoketest"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/queue"
)

func init() {
	register(command{name: "invoke", summary: "run one function once with a sample event (like sam local invoke)", run: runInvoke})
}

const invokeHelp = `Runs one function once with the event in FILE and prints its result and the messages it
sent. The function is wired from its serverless.yml environment.

Against what:
  - by default, an emulator started in this process (its queues are in memory, so every
    message the function sent is shown; nothing is left behind);
  - the real clouds when credentials are set (TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY,
    or HUAWEICLOUD_SDK_AK/SK) and no endpoint override (BACKUPFLOW_TENCENT_ENDPOINT) is: then
    every setting comes from the environment, as in the function, and messages go to the
    configured queues.

--platform picks how the payload is delivered: scf through the SCF Go1 net/rpc protocol
(Function.Invoke, the per-invocation Environment applied first), aws as the Lambda runtime
calls the handler. The default follows the file name (aws-*.json → aws, otherwise scf).
chatops samples (events/chatops/*.json, recorded HTTP requests) go through the chat
handler, verified at the time they were signed with the test secrets.

Exit codes: 0 the function succeeded, 1 it returned an error (or an HTTP error status),
left a message for redelivery, dead-lettered one, or a job of the event ended failed, stuck
or dead-lettered; 2 usage, 3 configuration, 4 runtime. events/outcomes.json gives each
sample's expected exit and output.`

func runInvoke(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "invoke", "invoke <function> --event FILE [--platform scf|aws]", invokeHelp)
	file := fs.String("event", "", "the event payload (see events/<function>/)")
	platform := fs.String("platform", "", "scf or aws (default: from the file name)")
	sls := fs.String("serverless", "serverless.yml", "the descriptor to read the function's environment from")
	// Flags may follow the function name, as in the usage line.
	var fn string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		fn, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fn == "" && fs.NArg() > 0 {
		fn = fs.Arg(0)
	}
	if fn == "" || *file == "" {
		return errorf(env, ExitUsage, "invoke: give a function and --event FILE, e.g. backupflow invoke create-backup --event events/create-backup/scf-timer.json")
	}
	payload, err := os.ReadFile(*file)
	if err != nil {
		return errorf(env, ExitUsage, "invoke: %v", err)
	}
	if *platform == "" {
		*platform = invoke.PlatformSCF
		if strings.HasPrefix(filepath.Base(*file), "aws-") {
			*platform = invoke.PlatformAWS
		}
	}
	if *platform != invoke.PlatformSCF && *platform != invoke.PlatformAWS {
		return errorf(env, ExitUsage, "invoke: --platform must be scf or aws")
	}
	if _, ok := app.Lookup(fn); !ok {
		return errorf(env, ExitUsage, "invoke: unknown function %q (create-backup, start-migration, poll-status or chatops)", fn)
	}

	vars := map[string]string{}
	if path, err := findUp(*sls); err == nil {
		desc, err := descriptor.LoadServerless(path)
		if err != nil {
			return errorf(env, ExitConfig, "invoke: %v", err)
		}
		vars = desc.Env(fn)
		vars["TENCENTCLOUD_REGION"] = desc.Inputs.Region
	}
	real := (env.Getenv("TENCENTCLOUD_SECRET_ID") != "" || env.Getenv("TENCENTCLOUD_SECRETID") != "" ||
		env.Getenv("HUAWEICLOUD_SDK_AK") != "") && env.Getenv("BACKUPFLOW_TENCENT_ENDPOINT") == ""
	var emu *emulator.Emulator
	if real {
		fmt.Fprintln(env.Stderr, "invoke: credentials set and no endpoint override: calling the real clouds")
		// The process environment wins, as on the platform.
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
		for _, k := range []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SECRETID",
			"TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "BACKUPFLOW_TENCENT_ENDPOINT"} {
			if v := env.Getenv(k); v != "" {
				vars[k] = v
			}
		}
	} else {
		var srv *emulator.Server
		if emu, err = emulator.New(emulator.Options{Logger: env.Log}); err == nil {
			srv, err = emu.Listen("127.0.0.1:0")
		}
		if err != nil {
			return errorf(env, ExitRuntime, "invoke: emulator: %v", err)
		}
		defer srv.Close(context.Background())
		for k, v := range local.Overrides(emu, srv.URL) {
			vars[k] = v
		}
		run := "invoke-" + nonce()
		for _, q := range []string{"WORK", "POLL", "DEAD"} {
			vars["BACKUPFLOW_"+q+"_QUEUE"] = "mem://" + run + "-" + strings.ToLower(q)
		}
		vars["BACKUPFLOW_LOG_FORMAT"] = "text"
		if err := seedObjects(emu, payload); err != nil {
			return errorf(env, ExitRuntime, "invoke: %v", err)
		}
		fmt.Fprintf(env.Stderr, "invoke: %s against the emulator at %s (%s delivery)\n", fn, srv.URL, *platform)
	}

	var stdout bytes.Buffer // notifications, shown after the result
	open := func(ctx context.Context, vars map[string]string) (*app.App, error) {
		getenv := func(k string) string { return vars[k] }
		cfg, err := config.LoadFrom(getenv)
		if err != nil {
			return nil, err
		}
		return app.Open(ctx, cfg, app.Options{Function: fn, Getenv: getenv, Stdout: &stdout, Logger: env.Log})
	}

	var (
		a    *app.App
		out  []byte
		ierr error
	)
	if fn == local.ChatFunction {
		if a, err = open(ctx, vars); err != nil {
			return errorf(env, ExitConfig, "invoke: %v", err)
		}
		out, ierr = invokeChat(ctx, a, payload)
	} else {
		build := func(ctx context.Context, vars map[string]string) (invoke.Handler, error) {
			var err error
			if a, err = open(ctx, vars); err != nil {
				return nil, err
			}
			entry, _ := app.Lookup(fn)
			return entry.Handler(a, nil)
		}
		if *platform == invoke.PlatformSCF {
			out, ierr, err = invokeSCF(ctx, env, fn, vars, build, payload)
		} else {
			var h invoke.Handler
			if h, err = build(ctx, vars); err == nil {
				deadline := time.Now().Add(15 * time.Minute)
				cctx, cancel := context.WithDeadline(ctx, deadline)
				defer cancel()
				out, ierr = h(invoke.WithMeta(cctx, invoke.Meta{Platform: invoke.PlatformAWS, FunctionName: fn,
					RequestID: "invoke-" + nonce(), Deadline: deadline, Region: vars["AWS_REGION"]}), payload)
			}
		}
		if err != nil {
			return errorf(env, ExitConfig, "invoke: %v", err)
		}
	}

	fmt.Fprintln(env.Stdout, "result:")
	if ierr != nil {
		fmt.Fprintf(env.Stdout, "  error: %v\n", ierr)
	} else {
		fmt.Fprintln(env.Stdout, "  "+indentJSON(out))
	}
	if stdout.Len() > 0 {
		fmt.Fprintln(env.Stdout, "notifications:")
		fmt.Fprint(env.Stdout, indent(stdout.String()))
	}
	dead := 0
	if a != nil {
		dead = printSent(ctx, env, a, real)
	}
	if ierr != nil {
		return ExitFailed
	}
	// The handler succeeding means only that its messages are done with: a
	// job it ended failed, a message it dead-lettered or left for
	// redelivery is still a failure of what was invoked.
	if why := handlerFailure(ctx, a, payload, out, dead); why != "" {
		fmt.Fprintf(env.Stdout, "failed: %s\n", why)
		return ExitFailed
	}
	return ExitOK
}

// handlerFailure names what went wrong in an invocation whose handler
// returned no error: messages left for redelivery, messages dead-lettered,
// or a job of the event that ended failed, stuck or dead-lettered.
func handlerFailure(ctx context.Context, a *app.App, payload, out []byte, dead int) string {
	var res struct {
		Jobs   []string `json:"jobs"`
		Failed int      `json:"failed"`
	}
	_ = json.Unmarshal(out, &res)
	if res.Failed > 0 {
		return fmt.Sprintf("%d message(s) left for redelivery", res.Failed)
	}
	if dead > 0 {
		return fmt.Sprintf("%d message(s) dead-lettered", dead)
	}
	if a == nil || a.Ledger == nil {
		return ""
	}
	ids := res.Jobs
	if tr, err := event.Decode(payload); err == nil {
		for _, m := range tr.Messages {
			if jm, err := job.Decode(m.Body); err == nil {
				ids = append(ids, jm.JobID)
			}
		}
	}
	for _, id := range ids {
		b, ok, err := a.Ledger.Get(ctx, "jobs/"+id+"/outcome")
		if err != nil || !ok {
			continue
		}
		var o flow.Outcome
		if json.Unmarshal(b, &o) == nil && o.Result != flow.Succeeded {
			return fmt.Sprintf("job %s ended %s", id, o.Result)
		}
	}
	return ""
}

// invokeSCF delivers payload through the SCF Go1 runtime protocol: the
// function's server (scfinvoke.Serve) on a loopback port, called over
// net/rpc with the environment in the request, as the platform does. Like
// the deployed main, the handler is wired from that environment on first use.
func invokeSCF(ctx context.Context, env Env, fn string, vars map[string]string,
	build func(context.Context, map[string]string) (invoke.Handler, error), payload []byte) ([]byte, error, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	var (
		mu      sync.Mutex
		applied = map[string]string{}
		h       invoke.Handler
	)
	handler := func(ctx context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		if h == nil {
			var err error
			if h, err = build(ctx, applied); err != nil {
				mu.Unlock()
				return nil, err
			}
		}
		mu.Unlock()
		return h(ctx, p)
	}
	setenv := func(k, v string) error { mu.Lock(); applied[k] = v; mu.Unlock(); return nil }
	done := make(chan error, 1)
	go func() {
		done <- scfinvoke.Serve(lis, handler, scfinvoke.WithLogger(env.Log), scfinvoke.WithSetenv(setenv))
	}()
	defer func() { lis.Close(); <-done }()

	client, err := scfinvoketest.Dial(ctx, lis.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	defer client.Close()
	req := client.Request(payload, vars, 15*time.Minute)
	req.RequestId, req.FunctionName = "invoke-"+nonce(), fn
	resp, err := client.Invoke(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("invoke: %w", err)
	}
	if resp.Error != nil {
		return nil, errors.New(resp.Error.Message), nil
	}
	return resp.Payload, nil, nil
}

// invokeChat replays a recorded HTTP request through the chat handler,
// verified at the moment it was signed.
func invokeChat(ctx context.Context, a *app.App, payload []byte) ([]byte, error) {
	var s chatopstest.Sample
	if err := json.Unmarshal(payload, &s); err != nil || s.Method == "" {
		// Name what arrived, as the deployed function would refuse it.
		what := "this payload"
		if tr, err := event.Decode(payload); err == nil {
			what = "a " + string(tr.Kind) + " event"
		}
		return nil, fmt.Errorf("chatops: got %s; it accepts http-request, here a recorded request {method, path, headers, body} (events/chatops/*.json)", what)
	}
	at, err := s.Time()
	if err != nil {
		return nil, err
	}
	h, err := local.ChatHandler(a, func() time.Time { return at })
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	r := s.Request().WithContext(invoke.WithMeta(ctx, invoke.Meta{Platform: invoke.PlatformLocal, FunctionName: local.ChatFunction}))
	h.ServeHTTP(rec, r)
	out, _ := json.Marshal(map[string]any{"status": rec.Code, "body": rec.Body.String()})
	if rec.Code >= 400 {
		return out, fmt.Errorf("HTTP %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return out, nil
}

// seedObjects puts the objects a COS event names into the emulator (a small
// SQL Server backup) so an import can start, as it would after a real upload.
func seedObjects(emu *emulator.Emulator, payload []byte) error {
	tr, err := event.Decode(payload)
	if err != nil || tr == nil {
		return nil
	}
	for _, o := range tr.Objects {
		if o.Platform != "cos" {
			continue
		}
		// With the event's ETag: an import is pinned to the upload its event names.
		if err := emu.COS.PutAs(o.Bucket, o.Key, append([]byte("TAPE"), make([]byte, 1020)...), o.ETag); err != nil {
			return fmt.Errorf("seed %s/%s: %w", o.Bucket, o.Key, err)
		}
	}
	return nil
}

// printSent shows what the invocation left in the queues. On the real
// clouds the queues belong to the deployed functions: they are named only.
// printSent lists the messages the invocation sent and returns how many
// went to the dead-letter queue.
func printSent(ctx context.Context, env Env, a *app.App, real bool) int {
	fmt.Fprintln(env.Stdout, "messages sent:")
	qs := []struct {
		name string
		q    *queue.Queue
	}{{"work", a.Work}, {"poll", a.Poll}, {"dead", a.Dead}}
	if real {
		fmt.Fprintf(env.Stdout, "  (to %s, %s and %s; not read back: the deployed functions consume them)\n",
			a.Cfg.WorkQueue, a.Cfg.PollQueue, a.Cfg.DeadQueue)
		return 0
	}
	n, dead := 0, 0
	for _, q := range qs {
		for {
			msgs, err := q.q.Receive(ctx, 16, 0)
			if err != nil || len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				fmt.Fprintf(env.Stdout, "  %s: %s\n", q.name, strings.TrimSpace(string(m.Body)))
				_ = q.q.Delete(ctx, m.Receipt)
				n++
				if q.name == "dead" {
					dead++
				}
			}
		}
	}
	if n == 0 {
		fmt.Fprintln(env.Stdout, "  (none due now)")
	}
	return dead
}

func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "  ", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
