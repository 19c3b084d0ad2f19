package scfinvoke_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
)

// binDir holds binaries built by the tests; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildOnce builds testdata/scffn once per test binary.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "scffn")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "scffn")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/scffn").CombinedOutput()
	if err != nil {
		return "", &buildError{out: out, err: err}
	}
	return bin, nil
})

type buildError struct {
	out []byte
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

func freePort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
}

// startFunction runs bin the way SCF's Go1 runtime does and dials it.
// process is a running function binary; done closes when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done
	logs *bytes.Buffer
}

func startFunction(t *testing.T, bin string) (*rpc.Client, *process) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "_LAMBDA_SERVER_PORT="+port)
	p := &process{cmd: cmd, done: make(chan struct{}), logs: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	// Wait for the listener; the platform also retries until Ping answers.
	var c *rpc.Client
	var err error
	for range 200 {
		if c, err = rpc.Dial("tcp", "127.0.0.1:"+port); err == nil {
			t.Cleanup(func() { c.Close() })
			return c, p
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("dial function on port %s: %v\nlogs:\n%s", port, err, p.logs)
	return nil, nil
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := events.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type report struct {
	Kind, Name, Message, Key, Greeting string
	Meta                               struct {
		Platform, RequestID, FunctionName, Region string
		Deadline                                  time.Time
		MemoryMB                                  int
	}
	HasMeta bool
}

func TestBinaryAsSCF(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a binary")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("build testdata/scffn: %v", err)
	}
	c, p := startFunction(t, bin)
	logs := p.logs

	if err := c.Call("Function.Ping", platformPing{}, &platformPong{}); err != nil {
		t.Fatalf("Function.Ping: %v", err)
	}

	deadline := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	invokeOK := func(t *testing.T, req platformInvoke) report {
		t.Helper()
		var reply platformReply
		if err := c.Call("Function.Invoke", req, &reply); err != nil {
			t.Fatalf("Function.Invoke: %v", err)
		}
		if reply.Error != nil {
			t.Fatalf("Function.Invoke reply error = %+v\nlogs:\n%s", reply.Error, logs)
		}
		var r report
		if err := json.Unmarshal(reply.Payload, &r); err != nil {
			t.Fatalf("reply payload %q: %v", reply.Payload, err)
		}
		return r
	}

	t.Run("timer with environment and deadline", func(t *testing.T) {
		r := invokeOK(t, platformInvoke{
			Payload:            sample(t, "create-backup/scf-timer-selection.json"),
			RequestId:          "req-timer",
			Deadline:           platformDeadline{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
			FunctionName:       "create-backup",
			MemoryLimitInMb:    128,
			Environment:        `{"GREETING":"hello from env","FAIL_MODE":""}`,
			TencentcloudRegion: "ap-guangzhou",
			PlatformOnlyField:  "ignored",
		})
		if r.Kind != "timer" || r.Name != "nightly-backup-selected" || !strings.Contains(r.Message, "cdb-c1nl9rpv") {
			t.Errorf("report = %+v; want the selection timer", r)
		}
		if r.Greeting != "hello from env" {
			t.Errorf("GREETING seen by handler = %q; want the invoke's Environment value", r.Greeting)
		}
		m := r.Meta
		if !r.HasMeta || m.Platform != "scf" || m.RequestID != "req-timer" || m.FunctionName != "create-backup" ||
			m.Region != "ap-guangzhou" || m.MemoryMB != 128 || !m.Deadline.Equal(deadline) {
			t.Errorf("meta = %+v; want scf, req-timer, create-backup, ap-guangzhou, 128 MB, deadline %v", m, deadline)
		}
	})

	t.Run("cos event", func(t *testing.T) {
		r := invokeOK(t, platformInvoke{
			Payload:     sample(t, "start-migration/scf-cos-put.json"),
			RequestId:   "req-cos",
			Environment: `{"GREETING":"second"}`,
		})
		if r.Kind != "object" || r.Key != "imports/mssql-rdc0gajn/orders.bak" || r.Greeting != "second" {
			t.Errorf("report = %+v; want the COS object and the new GREETING", r)
		}
		if !r.Meta.Deadline.IsZero() {
			t.Errorf("deadline = %v; want none when the request has none", r.Meta.Deadline)
		}
	})

	failures := []struct {
		name     string
		env      string
		wantType string
	}{
		{name: "malformed environment", env: `{"GREETING":`, wantType: "InvalidEnvironment"},
		{name: "environment with a number", env: `{"GREETING":1}`, wantType: "InvalidEnvironment"},
		{name: "handler error", env: `{"FAIL_MODE":"error"}`, wantType: "configError"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			var reply platformReply
			err := c.Call("Function.Invoke", platformInvoke{Payload: sample(t, "create-backup/scf-timer.json"), RequestId: "req-fail", Environment: tt.env}, &reply)
			if err != nil {
				t.Fatalf("Function.Invoke RPC error = %v; want nil (failures travel in the reply)", err)
			}
			if reply.Error == nil || reply.Error.Type != tt.wantType || reply.Error.Message == "" || reply.Error.ShouldExit {
				t.Fatalf("reply error = %+v; want type %s, a message, no exit", reply.Error, tt.wantType)
			}
			if strings.Contains(reply.Error.Message, "GREETING") && tt.wantType == "InvalidEnvironment" && strings.Contains(reply.Error.Message, tt.env) {
				t.Errorf("reply error echoes the environment: %q", reply.Error.Message)
			}
		})
	}
	if err := c.Call("Function.Ping", platformPing{}, &platformPong{}); err != nil {
		t.Fatalf("Function.Ping after failures: %v", err)
	}

	t.Run("panic replies then exits", func(t *testing.T) {
		var reply platformReply
		err := c.Call("Function.Invoke", platformInvoke{Payload: sample(t, "create-backup/scf-timer.json"), RequestId: "req-panic", Environment: `{"FAIL_MODE":"panic"}`}, &reply)
		if err != nil {
			t.Fatalf("Function.Invoke RPC error = %v", err)
		}
		e := reply.Error
		if e == nil || !e.ShouldExit || e.Message != "scffn: asked to panic" || e.Type != "string" || len(e.StackTrace) == 0 {
			t.Fatalf("reply error = %+v; want the panic message, type string, a stack, ShouldExit", e)
		}
		if top := e.StackTrace[0]; !strings.Contains(top.Label, "handle") || !strings.HasSuffix(top.Path, "main.go") || top.Line == 0 {
			t.Errorf("top frame = %+v; want the handler in main.go", top)
		}
		select {
		case <-p.done:
			if ee, ok := p.err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Errorf("process exit = %v; want a non-zero exit", p.err)
			}
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			t.Fatalf("process still running after a panic\nlogs:\n%s", logs)
		}
	})
}
