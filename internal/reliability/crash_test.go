package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke/scfinvoketest"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
)

// binDir holds the binaries once built; TestMain removes it.
var binDir string

// binaries are the SCF builds the crash tests run: each event function
// with the crashtest hooks, and create-backup as shipped.
type binaries struct{ create, mig, poll, prodCreate string }

var buildBinaries = sync.OnceValues(func() (binaries, error) {
	dir, err := os.MkdirTemp("", "backupflow-crash")
	if err != nil {
		return binaries{}, err
	}
	binDir = dir
	b := binaries{create: filepath.Join(dir, "create-crash"), mig: filepath.Join(dir, "mig-crash"), poll: filepath.Join(dir, "poll-crash"),
		prodCreate: filepath.Join(dir, "create-prod")}
	for _, x := range []struct{ tags, out, pkg string }{
		{"scf,crashtest", b.create, "../../functions/create-backup"},
		{"scf,crashtest", b.mig, "../../functions/start-migration"},
		{"scf,crashtest", b.poll, "../../functions/poll-status"},
		{"scf", b.prodCreate, "../../functions/create-backup"},
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-tags", x.tags, "-o", x.out, x.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, errors.New("go build -tags " + x.tags + " " + x.pkg + ": " + err.Error() + "\n" + string(out))
		}
	}
	return b, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func needBinaries(t *testing.T) binaries {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and kills real function processes")
	}
	b, err := buildBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fnProcess is one function instance, run as SCF's Go1 runtime runs it.
type fnProcess struct {
	*scfinvoketest.Process
	budget int64 // exchanges before the crash soak's kill
}

func startProcess(t testing.TB, bin string, logs *syncBuf) *fnProcess {
	t.Helper()
	return startProcessEnv(t, bin, nil, logs)
}

// startProcessEnv starts an instance with env added to its process
// environment (the crashtest hooks read theirs there, at start).
func startProcessEnv(t testing.TB, bin string, env []string, logs *syncBuf) *fnProcess {
	t.Helper()
	p, err := scfinvoketest.Start(context.Background(), bin, env, logs)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	t.Cleanup(p.Kill)
	return &fnProcess{Process: p}
}

// invoke calls Function.Invoke the way the platform does, with the
// function's environment in the request.
func (p *fnProcess) invoke(payload string, env map[string]string) (*scfinvoke.InvokeResponse, error) {
	req := p.Request([]byte(payload), env, time.Minute)
	req.FunctionName = "crash"
	return p.Invoke(context.Background(), req)
}

// offsetClock is wall time plus an offset the test moves forward, so the
// emulator can run ahead of the function processes by less than the
// signature skew windows.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// cmqPush is an SCF CMQ trigger event carrying one message.
func cmqPush(body []byte) string {
	ev, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"CMQ": map[string]any{
		"type": "topic", "topicOwner": 1250000000, "topicName": "backupflow-work", "subscriptionName": "create-backup",
		"publishTime": "2026-11-23T18:00:02Z", "msgId": "123345346700000001", "requestId": "1", "msgBody": string(body)}}}})
	return string(ev)
}

// TestCrash kills a real create-backup process at each crash point while it
// handles a create step, then has the platform deliver the same message to
// a fresh process, and drives poll-status processes to the end: the job must
// have exactly one backup in the cloud, one outcome and one notification.
func TestCrash(t *testing.T) {
	b := needBinaries(t)
	for _, point := range []string{"after-start", "after-handoff"} {
		t.Run(point, func(t *testing.T) {
			clk, emu, env, led := crashStack(t, point)
			ctx := context.Background()
			id := job.NewID("crash", point)
			m := job.Message{JobID: id, Step: job.StepCreate, Created: time.Now().UTC(), Origin: job.Origin{Source: "cli"},
				Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: job.Name(id)}}
			body, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			event := cmqPush(body)
			logs := &syncBuf{}

			// 1. The instance dies at the crash point: the platform sees the
			// connection drop, not a reply.
			crashEnv := map[string]string{flowCrashEnv: point}
			for k, v := range env {
				crashEnv[k] = v
			}
			p1 := startProcess(t, b.create, logs)
			if reply, err := p1.invoke(event, crashEnv); err == nil {
				t.Fatalf("invoke survived the crash point: reply %+v\n%s", reply, logs)
			}
			select {
			case <-p1.Done():
			case <-time.After(30 * time.Second): // hang guard only
				t.Fatal("process still running after the crash point")
			}
			if code := p1.Cmd.ProcessState.ExitCode(); code != 86 {
				t.Fatalf("exit code %d; want the crash hook's 86\n%s", code, logs)
			}
			if n := len(emu.Jobs()); n != 1 {
				t.Fatalf("cloud jobs after the crash = %d; want the 1 started before it", n)
			}
			wantPolls := map[string]int{"after-start": 0, "after-handoff": 1}[point]
			if v, i, d := emu.CMQ.Stats("backupflow-poll"); v+i+d != wantPolls {
				t.Fatalf("poll steps handed off before the crash = %d; want %d", v+i+d, wantPolls)
			}

			// 2. The platform redelivers the unacknowledged message to a
			// fresh instance.
			p2 := startProcess(t, b.create, logs)
			reply, err := p2.invoke(event, env)
			if err != nil || reply.Error != nil {
				t.Fatalf("redelivery: %v %+v\n%s", err, reply.Error, logs)
			}

			// 3. Time passes; poll-status instances drain the poll queue
			// until the job ends.
			p3 := startProcess(t, b.poll, logs)
			drain := `{"Type":"Timer","TriggerName":"drain","Time":"2026-11-23T18:00:00Z","Message":"drain"}`
			for range 10 {
				clk.Advance(25 * time.Second)
				reply, err := p3.invoke(drain, env)
				if err != nil || reply.Error != nil {
					t.Fatalf("drain: %v %+v\n%s", err, reply.Error, logs)
				}
				if v, i, d := emu.CMQ.Stats("backupflow-poll"); v+i+d == 0 {
					break
				}
			}
			if v, i, d := emu.CMQ.Stats("backupflow-poll"); v+i+d != 0 {
				t.Fatalf("poll queue still holds %d messages\n%s", v+i+d, logs)
			}

			jobs := emu.Jobs()
			if len(jobs) != 1 || jobs[0].State != provider.Succeeded {
				t.Errorf("cloud jobs = %+v; want exactly one, succeeded", jobs)
			}
			keys, err := led.List(ctx, "jobs/"+id+"/")
			if err != nil {
				t.Fatal(err)
			}
			outcomes := 0
			for _, k := range keys {
				if strings.HasSuffix(k, "/outcome") {
					outcomes++
					raw, _, _ := led.Get(ctx, k)
					var o flow.Outcome
					if err := json.Unmarshal(raw, &o); err != nil || o.Result != flow.Succeeded {
						t.Errorf("outcome %s: %v", raw, err)
					}
				}
			}
			if outcomes != 1 {
				t.Errorf("outcome records = %d; want 1 (keys %v)", outcomes, keys)
			}
			if n := strings.Count(logs.String(), "Backup of cdb-c1nl9rpv succeeded"); n != 1 {
				t.Errorf("success notified %d times; want once\n%s", n, logs)
			}
		})
	}
}

// TestCrashAfterOutcome kills a real poll-status process after it claimed
// the job's outcome and before it notified. The platform redelivers the
// unacknowledged poll message; the fresh process finds the outcome without
// its notified marker and sends the notification: exactly one, not none
// (the redelivery used to be dropped as a duplicate, losing it).
func TestCrashAfterOutcome(t *testing.T) {
	b := needBinaries(t)
	const point = "after-outcome"
	clk, emu, env, led := crashStack(t, point)
	// The processes run on wall time; a short lease lets the redelivery
	// take over the notification a second after the crash.
	env["BACKUPFLOW_NOTIFY_LEASE"] = "1s"
	ctx := context.Background()
	id := job.NewID("crash", point)
	m := job.Message{JobID: id, Step: job.StepCreate, Created: time.Now().UTC(), Origin: job.Origin{Source: "cli"},
		Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: job.Name(id)}}
	body, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	p1 := startProcess(t, b.create, logs)
	if reply, err := p1.invoke(cmqPush(body), env); err != nil || reply.Error != nil {
		t.Fatalf("create: %v %+v\n%s", err, reply.Error, logs)
	}

	crashEnv := map[string]string{flowCrashEnv: point}
	maps.Copy(crashEnv, env)
	drain := `{"Type":"Timer","TriggerName":"drain","Time":"2026-11-23T18:00:00Z","Message":"drain"}`
	p2 := startProcess(t, b.poll, logs)
	crashed := false
	for range 10 {
		clk.Advance(25 * time.Second)
		if _, err := p2.invoke(drain, crashEnv); err != nil {
			crashed = true
			break
		}
	}
	if !crashed {
		t.Fatalf("poll-status never reached the crash point\n%s", logs)
	}
	<-p2.Done()
	if code := p2.Cmd.ProcessState.ExitCode(); code != 86 {
		t.Fatalf("exit code %d; want the crash hook's 86\n%s", code, logs)
	}
	if _, ok, err := led.Get(ctx, "jobs/"+id+"/outcome"); err != nil || !ok {
		t.Fatalf("outcome after the crash: ok=%v err=%v; want it claimed", ok, err)
	}
	if n := strings.Count(logs.String(), "Backup of cdb-c1nl9rpv succeeded"); n != 0 {
		t.Fatalf("notified %d times before the crash; the crash point is after the claim and before the send", n)
	}
	time.Sleep(1100 * time.Millisecond) // past the notify lease, on the processes' wall clock

	// The platform redelivers once the message's visibility timeout ends.
	p3 := startProcess(t, b.poll, logs)
	for range 10 {
		clk.Advance(25 * time.Second)
		reply, err := p3.invoke(drain, env)
		if err != nil || reply.Error != nil {
			t.Fatalf("drain: %v %+v\n%s", err, reply.Error, logs)
		}
		if v, i, d := emu.CMQ.Stats("backupflow-poll"); v+i+d == 0 {
			break
		}
	}
	if v, i, d := emu.CMQ.Stats("backupflow-poll"); v+i+d != 0 {
		t.Fatalf("poll queue still holds %d messages\n%s", v+i+d, logs)
	}
	if n := strings.Count(logs.String(), "Backup of cdb-c1nl9rpv succeeded"); n != 1 {
		t.Errorf("success notified %d times; want exactly once\n%s", n, logs)
	}
	if _, ok, err := led.Get(ctx, "jobs/"+id+"/notified"); err != nil || !ok {
		t.Errorf("notified marker: ok=%v err=%v; want written", ok, err)
	}
	if n := len(emu.Jobs()); n != 1 {
		t.Errorf("cloud jobs = %d; want 1", n)
	}
}

// crashStack starts an emulator and opens the COS ledger the function
// processes share; env configures a process against both.
func crashStack(t *testing.T, name string) (*offsetClock, *emulator.Emulator, map[string]string, *ledger.Ledger) {
	t.Helper()
	clk := &offsetClock{}
	emu, err := emulator.New(emulator.Options{Now: clk.Now, JobDuration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	env := emu.Env(srv.URL)
	maps.Copy(env, emulator.CloudQueues("ledger-crash-"+name))
	ledgerURL := env["BACKUPFLOW_LEDGER"]
	env["BACKUPFLOW_NOTIFY"], env["BACKUPFLOW_LOG_LEVEL"] = "print:", "info"
	ctx := context.Background()
	led, err := ledger.Open(ctx, ledgerURL, openurl.Env{Getenv: func(k string) string { return env[k] }, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// A measured duration of one second brings the first status
	// check down to the 20 s minimum, inside the signature skew the
	// emulator allows the processes' wall clocks.
	if err := led.Put(ctx, "history/mysql/cdb-c1nl9rpv/backup", []byte("1000")); err != nil {
		t.Fatal(err)
	}

	return clk, emu, env, led
}

// flowCrashEnv is flow.CrashEnv, which exists only in crashtest builds.
const flowCrashEnv = "BACKUPFLOW_CRASH_AT"

// TestCrashHookNotInProduction proves the crash hook exists only in builds
// tagged crashtest: the shipped binary holds neither the hook's variable
// nor its code, and the package's production file list leaves it out.
func TestCrashHookNotInProduction(t *testing.T) {
	b := needBinaries(t)
	prod, err := os.ReadFile(b.prodCreate)
	if err != nil {
		t.Fatal(err)
	}
	crash, err := os.ReadFile(b.create)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(crash, []byte(flowCrashEnv)) {
		t.Fatalf("the crashtest build does not contain %s; the check below would prove nothing", flowCrashEnv)
	}
	for _, s := range []string{flowCrashEnv, "crashtest: exiting at"} {
		if bytes.Contains(prod, []byte(s)) {
			t.Errorf("production create-backup contains %q", s)
		}
	}
	for _, tags := range []string{"scf", ""} {
		out, err := exec.Command("go", "list", "-tags", tags, "-f", "{{join .GoFiles \" \"}}", "../../pkg/flow").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "crash_crashtest.go") || !strings.Contains(string(out), "crash.go") {
			t.Errorf("pkg/flow files with tags %q: %s; want crash.go and not crash_crashtest.go", tags, out)
		}
	}
}
