// Package tencenttest is a fake Tencent Cloud API 3.0 endpoint for adapter
// unit tests: scripted answers per action, in the documented envelope.
package tencenttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/backupflow/backupflow/pkg/tencent"
)

// CloudError is what a handler returns to answer with an API error envelope.
type CloudError struct{ Code, Message string }

// Call is one request the fake received.
type Call struct {
	Action string
	Body   map[string]any
}

// Fake answers API 3.0 actions from handlers keyed by action name and
// records every request body. It does not check signatures: the emulator's
// tests do (internal/emulator/tencentemu).
type Fake struct {
	mu       sync.Mutex
	handlers map[string]func(body []byte) any
	calls    []Call
}

// NewFake serves handlers and returns a client pointed at them.
func NewFake(t *testing.T, handlers map[string]func(body []byte) any) (*Fake, *tencent.Client) {
	t.Helper()
	f := &Fake{handlers: handlers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "id", SecretKey: "key"},
		Region: "ap-guangzhou", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := r.Header.Get("X-TC-Action")
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	f.mu.Lock()
	f.calls = append(f.calls, Call{Action: action, Body: m})
	h := f.handlers[action]
	f.mu.Unlock()
	resp := map[string]any{"RequestId": "req-" + action}
	switch out := any(nil); {
	case h == nil:
		resp["Error"] = map[string]string{"Code": "InvalidAction", "Message": "no handler"}
	default:
		out = h(body)
		if ce, ok := out.(CloudError); ok {
			resp["Error"] = map[string]string{"Code": ce.Code, "Message": ce.Message}
			break
		}
		raw, _ := json.Marshal(out)
		_ = json.Unmarshal(raw, &resp)
		resp["RequestId"] = "req-" + action
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": resp})
}

// Calls returns the requests received so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}
