package lambdainvoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke/lambdainvoketest"
)

func TestWrapSetsMeta(t *testing.T) {
	var got invoke.Meta
	h := lambdainvoke.Wrap(func(ctx context.Context, payload []byte) ([]byte, error) {
		got, _ = invoke.MetaFrom(ctx)
		return payload, nil
	})
	deadline := time.Unix(2000000000, 0)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "req-1",
		InvokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:poll-status:live",
	})
	out, err := h.Invoke(ctx, []byte(`{"x":1}`))
	if err != nil || string(out) != `{"x":1}` {
		t.Fatalf("Invoke() = %s, %v; want the payload back", out, err)
	}
	if got.Platform != "aws" || got.RequestID != "req-1" || got.Region != "eu-west-1" || !got.Deadline.Equal(deadline) {
		t.Errorf("meta = %+v; want aws, req-1, eu-west-1, %v", got, deadline)
	}
	if lambdacontext.FunctionName == "" && got.FunctionName != "poll-status" {
		t.Errorf("FunctionName = %q; want poll-status from the ARN", got.FunctionName)
	}
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildOnce builds testdata/awsfn as for provided.al2023.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "awsfn")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "bootstrap")
	if out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/awsfn").CombinedOutput(); err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// runFunction starts the bootstrap binary against a fresh fake Runtime API.
func runFunction(t *testing.T, extraEnv ...string) (*lambdainvoketest.Server, chan struct{}, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a binary")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("build testdata/awsfn: %v", err)
	}
	api := lambdainvoketest.NewServer()
	cmd := exec.Command(bin)
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + api.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=create-backup",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_REGION=us-west-2",
		"PATH=" + os.Getenv("PATH"),
	}, extraEnv...)
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
		api.Close()
	})
	return api, done, cmd, logs
}

func invokeFn(t *testing.T, api *lambdainvoketest.Server, inv lambdainvoketest.Invocation) lambdainvoketest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	res, err := api.Invoke(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := events.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBinaryOnRuntimeAPI(t *testing.T) {
	api, done, cmd, logs := runFunction(t)
	type report struct {
		Kind, Name, Message, Key string
		Failures                 struct {
			BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
		}
		Meta invoke.Meta
	}
	ok := func(t *testing.T, inv lambdainvoketest.Invocation) report {
		t.Helper()
		res := invokeFn(t, api, inv)
		if res.Error != nil {
			t.Fatalf("invocation failed: %+v\nlogs:\n%s", res.Error, logs)
		}
		var r report
		if err := json.Unmarshal(res.Payload, &r); err != nil {
			t.Fatalf("payload %q: %v", res.Payload, err)
		}
		return r
	}

	t.Run("schedule", func(t *testing.T) {
		deadline := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
		r := ok(t, lambdainvoketest.Invocation{
			RequestID:   "req-sched",
			Payload:     sample(t, "create-backup/aws-schedule.json"),
			Deadline:    deadline,
			FunctionARN: "arn:aws:lambda:eu-west-1:111122223333:function:create-backup",
		})
		if r.Kind != "timer" || r.Name != "backupflow-nightly-backup" {
			t.Errorf("report = %+v; want the schedule timer", r)
		}
		m := r.Meta
		if m.Platform != "aws" || m.RequestID != "req-sched" || m.Region != "eu-west-1" || m.FunctionName != "create-backup" ||
			m.MemoryMB != 256 || !m.Deadline.Equal(deadline) {
			t.Errorf("meta = %+v; want aws, req-sched, eu-west-1, create-backup, 256 MB, %v", m, deadline)
		}
	})
	t.Run("s3", func(t *testing.T) {
		r := ok(t, lambdainvoketest.Invocation{RequestID: "req-s3", Payload: sample(t, "start-migration/aws-s3-put.json")})
		if r.Kind != "object" || r.Key != "imports/mssql-rdc0gajn/orders march.bak" {
			t.Errorf("report = %+v; want the decoded S3 key", r)
		}
	})
	t.Run("sqs partial batch", func(t *testing.T) {
		r := ok(t, lambdainvoketest.Invocation{RequestID: "req-sqs", Payload: sample(t, "poll-status/aws-sqs-malformed-record.json")})
		f := r.Failures.BatchItemFailures
		if len(f) != 1 || f[0].ItemIdentifier != "e2b5c7d1-3f4a-4b6c-9d8e-7f0a1b2c3d06" {
			t.Errorf("failures = %+v; want only the malformed record", f)
		}
	})
	t.Run("handler error", func(t *testing.T) {
		res := invokeFn(t, api, lambdainvoketest.Invocation{RequestID: "req-err", Payload: []byte(`"error"`)})
		if res.Error == nil || res.Error.Message != "awsfn: asked to fail" || res.Error.Type != "errorString" {
			t.Errorf("result = %+v; want the handler's error", res)
		}
	})
	t.Run("panic reports then exits", func(t *testing.T) {
		res := invokeFn(t, api, lambdainvoketest.Invocation{RequestID: "req-panic", Payload: []byte(`"panic"`)})
		if res.Error == nil || res.Error.Message != "awsfn: asked to panic" || len(res.Error.StackTrace) == 0 {
			t.Errorf("result = %+v; want the panic with a stack", res)
		}
		select {
		case <-done:
			if cmd.ProcessState.ExitCode() == 0 {
				t.Errorf("exit code 0 after a panic; want non-zero")
			}
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			t.Fatalf("process still running after a panic\nlogs:\n%s", logs)
		}
	})
}

func TestBinaryHTTPOnRuntimeAPI(t *testing.T) {
	api, _, _, logs := runFunction(t, "AWSFN_HTTP=1")
	event := `{"version":"2.0","routeKey":"$default","rawPath":"/slack","rawQueryString":"x=1",
		"cookies":["k=v"],"headers":{"content-type":"application/x-www-form-urlencoded","x-slack-signature":"v0=ff"},
		"requestContext":{"requestId":"url-req","domainName":"u.lambda-url.us-east-1.on.aws","http":{"method":"POST","path":"/slack","sourceIp":"203.0.113.1"}},
		"body":"dGV4dD1zdGF0dXM=","isBase64Encoded":true}`
	res := invokeFn(t, api, lambdainvoketest.Invocation{RequestID: "req-http", Payload: []byte(event)})
	if res.Error != nil {
		t.Fatalf("invocation failed: %+v\nlogs:\n%s", res.Error, logs)
	}
	var r struct {
		StatusCode int      `json:"statusCode"`
		Cookies    []string `json:"cookies"`
		Body       string   `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("payload %q: %v", res.Payload, err)
	}
	want := "POST /slack x=1 sig=v0=ff cookie=k=v body=text=status req=req-http"
	if r.StatusCode != 201 || r.Body != want || strings.Join(r.Cookies, "|") != "a=1|b=2" {
		t.Errorf("response = %+v; want 201, %q, cookies a=1|b=2", r, want)
	}
}
