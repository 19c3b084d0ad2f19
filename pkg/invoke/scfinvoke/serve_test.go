package scfinvoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/rpc"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke"
)

// fakeEnv records the variables Serve applies instead of touching the process.
type fakeEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func (e *fakeEnv) set(k, v string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]string{}
	}
	e.m[k] = v
	return nil
}

func (e *fakeEnv) get(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[k]
}

var errTest = errors.New("test failure")

type typedError struct{}

func (*typedError) Error() string { return "typed failure" }

func TestServe(t *testing.T) {
	env := &fakeEnv{}
	h := func(ctx context.Context, payload []byte) ([]byte, error) {
		switch string(payload) {
		case `"error"`:
			return nil, errTest
		case `"typed"`:
			return nil, &typedError{}
		case `"panic"`:
			panic(errTest)
		case `"empty"`:
			return nil, nil
		}
		m, _ := invoke.MetaFrom(ctx)
		dl, hasDL := ctx.Deadline()
		return json.Marshal(map[string]any{"meta": m, "env": env.get("CONFIG"), "ctx_deadline": hasDL && dl.Equal(m.Deadline)})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- Serve(lis, h, WithSetenv(env.set), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	}()
	c, err := rpc.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if err := c.Call("Function.Ping", PingRequest{}, &PingResponse{}); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	deadline := time.Unix(2000000000, 5).UTC()
	tests := []struct {
		name    string
		req     InvokeRequest
		want    string // substring of the payload
		wantErr *InvokeError
	}{
		{
			name: "meta, deadline and environment",
			req: InvokeRequest{Payload: []byte(`{}`), RequestId: "r1", FunctionName: "f", MemoryLimitInMb: 256,
				Deadline: Timestamp{Seconds: deadline.Unix(), Nanos: 5}, Environment: `{"CONFIG":"v1","TENCENTCLOUD_REGION":"ap-shanghai"}`},
			want: `{"ctx_deadline":true,"env":"v1","meta":{"Platform":"scf","RequestID":"r1","FunctionName":"f","Region":"ap-shanghai","Deadline":"2033-05-18T03:33:20.000000005Z","MemoryMB":256}}`,
		},
		{
			name: "region field wins over environment",
			req:  InvokeRequest{Payload: []byte(`{}`), TencentcloudRegion: "ap-guangzhou", Environment: `{"CONFIG":"v2","TENCENTCLOUD_REGION":"ap-shanghai"}`},
			want: `"env":"v2","meta":{"Platform":"scf","RequestID":"","FunctionName":"","Region":"ap-guangzhou","Deadline":"0001-01-01T00:00:00Z"`,
		},
		{name: "empty result is null", req: InvokeRequest{Payload: []byte(`"empty"`)}, want: `null`},
		{name: "error", req: InvokeRequest{Payload: []byte(`"error"`)}, wantErr: &InvokeError{Message: "test failure", Type: "errorString"}},
		{name: "typed error", req: InvokeRequest{Payload: []byte(`"typed"`)}, wantErr: &InvokeError{Message: "typed failure", Type: "typedError"}},
		{name: "bad environment", req: InvokeRequest{Payload: []byte(`{}`), Environment: `[1]`}, wantErr: &InvokeError{Message: "scfinvoke: environment is not a JSON object of strings", Type: "InvalidEnvironment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp InvokeResponse
			if err := c.Call("Function.Invoke", tt.req, &resp); err != nil {
				t.Fatalf("Invoke RPC error = %v", err)
			}
			if tt.wantErr != nil {
				if resp.Error == nil || !reflect.DeepEqual(*resp.Error, *tt.wantErr) {
					t.Fatalf("Invoke error = %+v; want %+v", resp.Error, tt.wantErr)
				}
				return
			}
			if resp.Error != nil || !strings.Contains(string(resp.Payload), tt.want) {
				t.Fatalf("Invoke = %s, %+v; want payload containing %s", resp.Payload, resp.Error, tt.want)
			}
		})
	}

	var resp InvokeResponse
	if err := c.Call("Function.Invoke", InvokeRequest{Payload: []byte(`"panic"`)}, &resp); err != nil {
		t.Fatalf("Invoke(panic) RPC error = %v", err)
	}
	if resp.Error == nil || !resp.Error.ShouldExit || resp.Error.Message != "test failure" || len(resp.Error.StackTrace) == 0 {
		t.Fatalf("Invoke(panic) error = %+v; want ShouldExit with a stack", resp.Error)
	}
	if !strings.Contains(resp.Error.StackTrace[0].Label, "TestServe") {
		t.Errorf("top frame = %+v; want the panicking test handler", resp.Error.StackTrace[0])
	}
	if err := <-served; !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("Serve() after panic = %v; want ErrHandlerPanic", err)
	}
}

func TestServeReturnsWhenListenerCloses(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- Serve(lis, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	}()
	lis.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve() = %v; want nil after the listener closes", err)
	}
	if err := Serve(lis, nil); err == nil {
		t.Fatal("Serve(nil handler) = nil; want an error")
	}
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{in: ``, want: nil},
		{in: `  `, want: nil},
		{in: `null`, want: nil},
		{in: `{}`, want: map[string]string{}},
		{in: `{"A":"1","TENCENTCLOUD_SESSIONTOKEN":"t=k"}`, want: map[string]string{"A": "1", "TENCENTCLOUD_SESSIONTOKEN": "t=k"}},
		{in: `{"A":1}`, wantErr: true},
		{in: `{"A":"1"} {"B":"2"}`, wantErr: true},
		{in: `{"A=B":"1"}`, wantErr: true},
		{in: `{"":"1"}`, wantErr: true},
		{in: `{"A":"x\u0000y"}`, wantErr: true},
		{in: `"A=1"`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseEnvironment(tt.in)
		if (err != nil) != tt.wantErr || !maps.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("parseEnvironment(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseEnvironmentNeverEchoesValues(t *testing.T) {
	_, err := parseEnvironment(`{"TENCENTCLOUD_SECRETKEY":"s3cr3t",`)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("parseEnvironment error = %v; want an error without the value", err)
	}
}

func FuzzParseEnvironment(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `{"A":"1","B":"two words"}`, `{"A=":"1"}`, `{"A":1}`, `[]`, `{"A":"1"}x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env, err := parseEnvironment(s)
		if err != nil {
			if env != nil {
				t.Fatalf("parseEnvironment(%q) = %v with error %v", s, env, err)
			}
			return
		}
		for k, v := range env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
				t.Fatalf("parseEnvironment(%q) accepted %q=%q", s, k, v)
			}
		}
		// What was accepted survives a round trip unchanged.
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseEnvironment(string(b))
		if err != nil || !maps.Equal(env, again) {
			t.Fatalf("round trip of %v = %v, %v", env, again, err)
		}
	})
}

func TestServeWeb(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m, _ := invoke.MetaFrom(r.Context())
		io.WriteString(w, m.Platform+" "+m.RequestID+" "+m.Region+" "+string(b))
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveWeb(ctx, lis, h, invoke.Meta{Platform: "scf", Region: "ap-guangzhou"}) }()
	url := "http://" + lis.Addr().String() + "/"

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "meta and body", body: "ping", wantStatus: http.StatusOK, wantBody: "scf req-9 ap-guangzhou ping"},
		{name: "body over limit", body: strings.Repeat("x", MaxWebBodyBytes+1), wantStatus: http.StatusRequestEntityTooLarge, wantBody: "too large\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Scf-Request-Id", "req-9")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
				t.Errorf("POST = %d %q; want %d %q", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
		})
	}
	cancel() // as SIGTERM would
	if err := <-served; err != nil {
		t.Fatalf("serveWeb() after shutdown = %v; want nil", err)
	}
}
