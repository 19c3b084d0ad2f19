package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke/lambdainvoketest"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke/scfinvoketest"
)

func TestHello(t *testing.T) {
	out, err := hello(context.Background(), []byte(`{}`))
	if err != nil || string(out) != `{"hello":"world"}` {
		t.Fatalf("hello() = %s, %v; want {\"hello\":\"world\"}", out, err)
	}
}

// TestDeps is the per-binary dependency fence: each platform build links
// its own runtime and never the other one, nor test-only packages.
func TestDeps(t *testing.T) {
	tests := []struct {
		name      string
		tags      string
		mustHave  string
		forbidden []string
	}{
		{
			name:     "scf",
			tags:     "scf",
			mustHave: "github.com/backupflow/backupflow/pkg/invoke/scfinvoke",
			forbidden: []string{"github.com/aws/aws-lambda-go/", "github.com/backupflow/backupflow/pkg/invoke/lambdainvoke",
				"testing", "net/http/httptest"},
		},
		{
			name:     "aws",
			tags:     "lambda.norpc",
			mustHave: "github.com/aws/aws-lambda-go/lambda",
			forbidden: []string{"github.com/backupflow/backupflow/pkg/invoke/scfinvoke", "net/rpc",
				"testing", "net/http/httptest", "github.com/backupflow/backupflow/pkg/invoke/lambdainvoke/lambdainvoketest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-tags", tt.tags, "-deps", ".").CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps: %v\n%s", err, out)
			}
			deps := strings.Fields(string(out))
			found := false
			for _, d := range deps {
				found = found || d == tt.mustHave
				for _, bad := range tt.forbidden {
					if d == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(d, bad) {
						t.Errorf("%s build links %s", tt.name, d)
					}
				}
			}
			if !found {
				t.Errorf("%s build does not link %s", tt.name, tt.mustHave)
			}
		})
	}
}

func build(t *testing.T, tags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a binary")
	}
	bin := filepath.Join(t.TempDir(), "hello")
	if out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	return bin
}

func run(t *testing.T, bin string, env ...string) *bytes.Buffer {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return logs
}

func TestHelloOnSCF(t *testing.T) {
	bin := build(t, "scf")
	var logs bytes.Buffer
	p, err := scfinvoketest.Start(context.Background(), bin, nil, &logs)
	if err != nil {
		t.Fatalf("%v\n%s", err, &logs)
	}
	defer p.Kill()
	reply, err := p.Invoke(context.Background(), p.Request([]byte(`{}`), nil, time.Minute))
	if err != nil {
		t.Fatalf("Function.Invoke: %v", err)
	}
	if reply.Error != nil || string(reply.Payload) != `{"hello":"world"}` {
		t.Fatalf("Function.Invoke = %s, %+v; want {\"hello\":\"world\"}", reply.Payload, reply.Error)
	}
}

func TestHelloOnLambda(t *testing.T) {
	bin := build(t, "lambda.norpc")
	api := lambdainvoketest.NewServer()
	t.Cleanup(api.Close) // cleanups run last-in first-out: the process is killed first
	logs := run(t, bin, "AWS_LAMBDA_RUNTIME_API="+api.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	res, err := api.Invoke(ctx, lambdainvoketest.Invocation{RequestID: "r", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, logs)
	}
	if res.Error != nil || string(res.Payload) != `{"hello":"world"}` {
		t.Fatalf("result = %s, %+v; want {\"hello\":\"world\"}", res.Payload, res.Error)
	}
}
