// Tests that build the real function binaries and drive them as each
// platform does: SCF over its Go1 net/rpc protocol, Lambda through the
// Runtime API, against the cloud emulator.
package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke/lambdainvoketest"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke/scfinvoketest"
	"github.com/backupflow/backupflow/pkg/provider"
)

var (
	binDir   string
	binMu    sync.Mutex
	binBuilt = map[string]bool{}
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "backupflow-fn-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// build compiles a function once per test binary run.
func build(t *testing.T, _ string, fn string, tags ...string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	out := filepath.Join(binDir, fn+"-"+strings.Join(tags, "-"))
	if binBuilt[out] {
		return out
	}
	args := []string{"build", "-trimpath", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./"+fn)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", fn, err, b)
	}
	binBuilt[out] = true
	return out
}

// scfFunction is a running function binary speaking the SCF Go1 protocol.
type scfFunction struct {
	t   *testing.T
	p   *scfinvoketest.Process
	env map[string]string
}

func startSCF(t *testing.T, bin string, env map[string]string) *scfFunction {
	t.Helper()
	p, err := scfinvoketest.Start(context.Background(), bin, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return &scfFunction{t: t, p: p, env: env}
}

func (f *scfFunction) invoke(payload []byte) *scfinvoke.InvokeResponse {
	f.t.Helper()
	rep, err := f.p.Invoke(context.Background(), f.p.Request(payload, f.env, 30*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

func emulatorEnv(t *testing.T) (*emulator.Emulator, map[string]string) {
	t.Helper()
	emu, err := emulator.New(emulator.Options{JobDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	env := emu.Env(srv.URL)
	maps.Copy(env, emulator.CloudQueues("ledger"))
	// SCF hands the role's credentials over under its own names.
	env["TENCENTCLOUD_SECRETID"], env["TENCENTCLOUD_SECRETKEY"] = env["TENCENTCLOUD_SECRET_ID"], env["TENCENTCLOUD_SECRET_KEY"]
	env["TENCENTCLOUD_SESSIONTOKEN"] = "role-session-token"
	delete(env, "TENCENTCLOUD_SECRET_ID")
	delete(env, "TENCENTCLOUD_SECRET_KEY")
	maps.Copy(env, map[string]string{"BACKUPFLOW_FIRST_POLL": "1s", "BACKUPFLOW_POLL_MIN": "1s", "BACKUPFLOW_LOG_LEVEL": "warn"})
	return emu, env
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSCF_EveryTriggerToOneOutcome runs the nightly timer, a COS upload
// (delivered twice) and the drain timers through the real SCF binaries until
// every job has ended, then checks one backup or import per job.
func TestSCF_EveryTriggerToOneOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs jobs in real time")
	}
	dir := t.TempDir()
	emu, env := emulatorEnv(t)
	// The object start-migration/scf-cos-put.json describes, with its ETag.
	if err := emu.COS.PutAs("backups-1250000000", "imports/mssql-rdc0gajn/orders.bak", append([]byte("TAPE"), make([]byte, 512)...), "5d41402abc4b2a76b9719d911017c592"); err != nil {
		t.Fatal(err)
	}
	create := startSCF(t, build(t, dir, "create-backup", "scf"), env)
	migrate := startSCF(t, build(t, dir, "start-migration", "scf"), env)
	poll := startSCF(t, build(t, dir, "poll-status", "scf"), env)

	if rep := create.invoke(sample(t, "create-backup/scf-timer.json")); rep.Error != nil {
		t.Fatalf("nightly timer: %+v", rep.Error)
	}
	for range 2 {
		if rep := migrate.invoke(sample(t, "start-migration/scf-cos-put.json")); rep.Error != nil {
			t.Fatalf("COS event: %+v", rep.Error)
		}
	}
	if rep := migrate.invoke(sample(t, "start-migration/scf-cos-not-bak.json")); rep.Error != nil {
		t.Fatalf("a non-matching upload must be skipped, not failed: %+v", rep.Error)
	}
	drain := sample(t, "poll-status/scf-timer-drain.json")
	deadline := time.Now().Add(90 * time.Second)
	for {
		create.invoke([]byte(`{"Type":"Timer","TriggerName":"drain-work","Time":"2026-11-23T18:01:00Z","Message":"drain"}`))
		poll.invoke(drain)
		visible, inflight, delayed := 0, 0, 0
		for _, q := range []string{"backupflow-work", "backupflow-poll"} {
			v, i, d := emu.CMQ.Stats(q)
			visible, inflight, delayed = visible+v, inflight+i, delayed+d
		}
		running := 0
		for _, j := range emu.Jobs() {
			if j.State == provider.Running {
				running++
			}
		}
		if len(emu.Jobs()) > 0 && running == 0 && visible+inflight+delayed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done: %d running, queues %d/%d/%d", running, visible, inflight, delayed)
		}
		time.Sleep(500 * time.Millisecond)
	}
	per := map[string]int{}
	imports := 0
	for _, j := range emu.Jobs() {
		per[j.InstanceID+"/"+j.Name]++
		if j.Op == provider.Import {
			imports++
		}
		if j.State != provider.Succeeded {
			t.Errorf("%s %s ended %v %s", j.InstanceID, j.Name, j.State, j.Detail)
		}
	}
	for name, n := range per {
		if n != 1 {
			t.Errorf("%s: %d cloud jobs; want 1", name, n)
		}
	}
	if imports != 1 || len(per) < 8 {
		t.Errorf("imports = %d, distinct jobs = %d; want 1 import and the nightly fleet", imports, len(per))
	}
}

func TestSCF_ErrorsAndPanicsReachThePlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	_, env := emulatorEnv(t)
	f := startSCF(t, build(t, t.TempDir(), "poll-status", "scf"), env)
	rep := f.invoke([]byte(`{"not":"a trigger"`))
	if rep.Error == nil || rep.Error.ShouldExit {
		t.Errorf("malformed event: error %+v; want a function error that does not exit", rep.Error)
	}
	f.env = map[string]string{"BACKUPFLOW_NOTIFY_MODE": "sometimes"}
	rep = f.invoke(sample(t, "poll-status/scf-timer-drain.json"))
	if rep.Error == nil || !strings.Contains(rep.Error.Message, "BACKUPFLOW_NOTIFY_MODE") {
		t.Errorf("bad config: error %+v; want one naming the variable", rep.Error)
	}
}

// TestAWS_SamplesThroughTheRuntimeAPI runs the Lambda builds against a fake
// Runtime API with the AWS samples.
func TestAWS_SamplesThroughTheRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	dir := t.TempDir()
	_, env := emulatorEnv(t)
	env["BACKUPFLOW_WORK_QUEUE"] = "sqs://backupflow-work?region=us-east-1"
	env["BACKUPFLOW_POLL_QUEUE"] = "sqs://backupflow-poll?region=us-east-1"
	env["BACKUPFLOW_DEAD_QUEUE"] = "sqs://backupflow-dead?region=us-east-1"
	env["BACKUPFLOW_LEDGER"] = "mem://aws"
	// The SQS emulator checks SigV4 with its own key pair, which emulator.Env sets.
	env["AWS_REGION"] = "us-east-1"
	cases := []struct {
		fn, event string
		check     func(t *testing.T, res lambdainvoketest.Result)
	}{
		{"create-backup", "create-backup/aws-schedule.json", func(t *testing.T, res lambdainvoketest.Result) {
			if res.Error != nil || !strings.Contains(string(res.Payload), "nightly-") {
				t.Errorf("schedule: %s %+v", res.Payload, res.Error)
			}
		}},
		{"poll-status", "poll-status/aws-sqs-malformed-record.json", func(t *testing.T, res lambdainvoketest.Result) {
			var br struct {
				BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
			}
			if res.Error != nil || json.Unmarshal(res.Payload, &br) != nil || len(br.BatchItemFailures) == 0 {
				t.Errorf("a malformed record must fail alone in a partial-batch reply: %s %+v", res.Payload, res.Error)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			rt := lambdainvoketest.NewServer()
			defer rt.Close()
			cmd := exec.Command(build(t, dir, c.fn, "lambda.norpc"))
			cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+rt.Addr())
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := rt.Invoke(ctx, lambdainvoketest.Invocation{RequestID: "r1", Payload: sample(t, c.event)})
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, res)
		})
	}
}

// TestDeps fences each platform's binaries: an SCF function links neither the
// Lambda runtime nor the AWS SDK, a Lambda function neither the SCF runtime
// nor the COS SDK, and no production binary links the testing package. A
// Lambda function links no text/template either: it calls methods by
// reflection, which keeps every exported method of every type (the AWS
// SDK's many) in the binary — the report page's template made the Lambda
// chatops function 16.3 MB against the others' 10.4. (SCF's net/rpc links
// html/template itself.)
func TestDeps(t *testing.T) {
	forbidden := map[string][]string{
		"scf":          {"github.com/aws/", "pkg/invoke/lambdainvoke", "testing"},
		"lambda.norpc": {"github.com/tencentyun/cos-go-sdk-v5", "pkg/invoke/scfinvoke", "net/rpc", "testing", "text/template", "html/template"},
	}
	for _, fn := range []string{"create-backup", "start-migration", "poll-status", "chatops"} {
		for tag, bad := range forbidden {
			out, err := exec.Command("go", "list", "-deps", "-tags", tag, "./"+fn).Output()
			if err != nil {
				t.Fatalf("go list %s (%s): %v", fn, tag, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, b := range bad {
					if dep == b || strings.HasPrefix(dep, b) && strings.HasSuffix(b, "/") || strings.HasSuffix(dep, "/"+b) {
						t.Errorf("%s built with -tags %s links %s", fn, tag, dep)
					}
				}
			}
		}
	}
}

// TestPortablePackagesNameNoCloud: the portable queue, ledger and object
// store packages and the registry they open through link no Tencent or AWS
// SDK (nor pkg/tencent or pkg/sigv4) in any build; only their drivers do. Each
// platform's functions link exactly that platform's drivers.
func TestPortablePackagesNameNoCloud(t *testing.T) {
	const module = "github.com/backupflow/backupflow/"
	// pkg/sigv4 is how the AWS drivers speak to AWS without its SDK.
	cloud := []string{"github.com/aws/", "github.com/tencentyun/", "github.com/tencentcloud/", module + "pkg/tencent", module + "pkg/sigv4"}
	deps := func(t *testing.T, tag, pkg string) []string {
		t.Helper()
		args := []string{"list", "-deps"}
		if tag != "" {
			args = append(args, "-tags", tag)
		}
		out, err := exec.Command("go", append(args, pkg)...).Output()
		if err != nil {
			t.Fatalf("go list %s (%s): %v", pkg, tag, err)
		}
		return strings.Fields(string(out))
	}
	isCloud := func(dep string) bool {
		return slices.ContainsFunc(cloud, func(c string) bool { return strings.HasPrefix(dep, c) })
	}
	for _, tag := range []string{"", "scf", "lambda.norpc"} {
		for _, pkg := range []string{"pkg/queue", "pkg/queue/memqueue", "pkg/ledger", "pkg/objstore", "pkg/openurl"} {
			for _, dep := range deps(t, tag, "../"+pkg) {
				if isCloud(dep) {
					t.Errorf("%s (tags %q) links %s", pkg, tag, dep)
				}
			}
		}
	}
	// The check above must be able to fail: the drivers do link the SDKs
	// (or pkg/sigv4).
	for _, pkg := range []string{"pkg/queue/cmqqueue", "pkg/queue/sqsqueue", "pkg/ledger/cosledger", "pkg/ledger/s3ledger", "pkg/objstore/cosstore", "pkg/objstore/s3store"} {
		if !slices.ContainsFunc(deps(t, "", "../"+pkg), isCloud) {
			t.Errorf("%s links no cloud SDK; the check above proves nothing", pkg)
		}
	}
	drivers := []string{"pkg/queue/cmqqueue", "pkg/ledger/cosledger", "pkg/objstore/cosstore", "pkg/queue/sqsqueue", "pkg/ledger/s3ledger", "pkg/objstore/s3store"}
	want := map[string][]string{"scf": drivers[:3], "lambda.norpc": drivers[3:]}
	for _, fn := range []string{"create-backup", "start-migration", "poll-status", "chatops"} {
		for tag, wantDrivers := range want {
			linked := deps(t, tag, "./"+fn)
			for _, d := range drivers {
				if got, w := slices.Contains(linked, module+d), slices.Contains(wantDrivers, d); got != w {
					t.Errorf("%s (-tags %s): links %s = %v; want %v", fn, tag, d, got, w)
				}
			}
		}
	}
}

// TestEventFunctionsLinkNoToolingOrChat: the three event functions link what
// ships and nothing else — no internal/ package (emulator, local stack, CLI,
// simulator, footprint, descriptor checks) and no chat code.
func TestEventFunctionsLinkNoToolingOrChat(t *testing.T) {
	const module = "github.com/backupflow/backupflow/"
	for _, f := range app.EventFunctions() {
		for _, tag := range []string{"scf", "lambda.norpc"} {
			out, err := exec.Command("go", "list", "-deps", "-tags", tag, "./"+f.Name).Output()
			if err != nil {
				t.Fatalf("go list %s (%s): %v", f.Name, tag, err)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, module+"pkg/function") {
				t.Fatalf("%s (%s): go list shows no pkg/function; the check below would prove nothing", f.Name, tag)
			}
			for _, dep := range deps {
				if strings.HasPrefix(dep, module+"internal/") || dep == module+"pkg/chatops" || dep == module+"pkg/chatapp" {
					t.Errorf("%s built with -tags %s links %s", f.Name, tag, dep)
				}
			}
		}
	}
}

// TestMainsAreTheTable: every functions/<dir> is an entry of the function
// table, and its main builds exactly that entry — an event function's main
// is app.Main("<dir>"), the web function's is chatapp.Handler.
func TestMainsAreTheTable(t *testing.T) {
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		entry, ok := app.Lookup(d.Name())
		if !ok {
			t.Errorf("functions/%s is not in the function table (pkg/app.Functions)", d.Name())
			continue
		}
		seen[d.Name()] = true
		src, err := os.ReadFile(filepath.Join(d.Name(), "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		want := `app.Main("` + d.Name() + `")`
		if entry.Web {
			want = "chatapp.Handler("
		}
		if strings.Count(string(src), want) != 1 {
			t.Errorf("functions/%s/main.go does not build its table entry with %s", d.Name(), want)
		}
		for _, other := range []string{"function.", "flow.", "app.Open(", "chatapp.New("} {
			if strings.Contains(string(src), other) {
				t.Errorf("functions/%s/main.go wires %s itself; it must only start its table entry", d.Name(), other)
			}
		}
	}
	for _, f := range app.Functions {
		if !seen[f.Name] {
			t.Errorf("the function table names %s, which has no functions/%s", f.Name, f.Name)
		}
	}
}

// TestNothingElseWiresAHandler: outside the table (pkg/app/functions.go),
// the one chat constructor (pkg/chatapp) and the handlers' own unit tests,
// no file of the repository builds a function handler — so the local stack,
// invoke, the simulator and the end-to-end tests run what is deployed.
func TestNothingElseWiresAHandler(t *testing.T) {
	ctors := []string{"function.CreateBackup(", "function.StartMigration(", "function.PollStatus(", "chatops.New("}
	allowed := map[string]bool{"pkg/app/functions.go": true, "pkg/chatapp/chatapp.go": true, "functions/platform_test.go": true}
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && rel != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || allowed[rel] ||
			strings.HasPrefix(rel, "pkg/function/") || strings.HasPrefix(rel, "pkg/chatops/") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, c := range ctors {
			if strings.Contains(string(src), c) {
				t.Errorf("%s calls %s: build handlers from the function table (app.Lookup(name).Handler, chatapp.New)", rel, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBenchmarksRunTheTable: the simulator and the footprint benchmark run
// the deployed functions, so neither calls the flow's steps around the
// handlers (its own receive→handle→delete loop would skip the drain's
// pacer and headroom), and both take their handlers from app.Lookup.
func TestBenchmarksRunTheTable(t *testing.T) {
	bypass := []string{".Handle(", ".HandleSafely(", ".Nightly(", ".GiveUp(", ".Sweep(", "flow.Service)"}
	for _, dir := range []string{"../internal/simulate", "../internal/footprint"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no sources (%v)", dir, err)
		}
		table := false
		for _, p := range files {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bypass {
				if strings.Contains(string(src), b) {
					t.Errorf("%s calls %s: deliver through the table's handlers (app.Lookup(name).Handler)", p, b)
				}
			}
			table = table || strings.Contains(string(src), "app.Lookup(") || strings.Contains(string(src), "app.Functions")
		}
		if !table {
			t.Errorf("%s does not read the function table (app.Lookup / app.Functions)", dir)
		}
	}
}

// TestEveryPkgShips: pkg/ holds what the deployed functions link, so a
// reader sees at once what ships. Every package under pkg/ is linked by a
// function on some platform; a package no function links (tooling, a
// parser only the local stack uses) belongs under internal/. The *test
// packages are the helpers tests of those packages import.
func TestEveryPkgShips(t *testing.T) {
	const module = "github.com/backupflow/backupflow/"
	linked := map[string]bool{}
	for _, tag := range []string{"scf", "lambda.norpc"} {
		args := []string{"list", "-deps", "-tags", tag}
		for _, f := range app.Functions {
			args = append(args, "./"+f.Name)
		}
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			t.Fatalf("go list -deps (%s): %v", tag, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			linked[dep] = true
		}
	}
	out, err := exec.Command("go", "list", "../pkg/...").Output()
	if err != nil {
		t.Fatalf("go list ../pkg/...: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 20 {
		t.Fatalf("go list shows %d packages under pkg/; the check would prove nothing", len(pkgs))
	}
	for _, p := range pkgs {
		if !strings.HasPrefix(p, module+"pkg/") {
			t.Fatalf("go list gave %s", p)
		}
		if strings.HasSuffix(p, "test") {
			continue
		}
		if !linked[p] {
			t.Errorf("%s is linked by no deployed function: move it under internal/", strings.TrimPrefix(p, module))
		}
	}
}
