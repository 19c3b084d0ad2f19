package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fixedNow is the clock every test uses; signatures are checked against it.
var fixedNow = time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return fixedNow }

// platform is an httptest server standing in for a chat platform. check
// validates each request the way the platform would and returns the status
// and body to answer; requests are kept for later assertions.
type platform struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []request
	check func(t *testing.T, r request) (int, string)
	// header is added to every answer (Retry-After, Location).
	header http.Header
}

type request struct {
	Method string
	Path   string
	Query  string // raw, to check encoding
	Header http.Header
	Body   []byte
}

func newPlatform(t *testing.T, check func(t *testing.T, r request) (int, string)) *platform {
	t.Helper()
	p := &platform{check: check}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
		p.mu.Lock()
		p.reqs = append(p.reqs, req)
		p.mu.Unlock()
		status, reply := p.check(t, req)
		for k, v := range p.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, reply)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *platform) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.reqs...)
}

// opts points every platform at srv and pins the clock.
func opts(srv *platform) *Options {
	base := srv.URL
	return &Options{
		HTTPClient: srv.Client(),
		Now:        clock,
		Endpoints:  map[string]string{"slack": base, "wecom": base, "dingtalk": base, "feishu": base, "lark": base},
	}
}

func mustParse(t *testing.T, spec string, o *Options) Sender {
	t.Helper()
	s, err := Parse(spec, o)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Errorf("request body is not the expected JSON shape: %v\n%s", err, b)
	}
}

// logBuffer is a slog logger whose output the test can scan.
func logBuffer() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewJSONHandler(&b, nil)), &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
