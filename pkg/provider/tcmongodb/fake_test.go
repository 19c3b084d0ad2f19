package tcmongodb

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/backupflow/backupflow/pkg/tencent"
)

// cloudError is what a fake handler returns for an API error envelope.
type cloudError struct{ Code, Message string }

// fakeCloud answers API 3.0 actions from handlers keyed by action name,
// in the documented envelope, and records every request body. It does not
// check signatures: the emulator tests do.
type fakeCloud struct {
	mu       sync.Mutex
	handlers map[string]func(body []byte) any
	calls    []fakeCall
}

type fakeCall struct {
	Action string
	Body   map[string]any
}

func newFake(t *testing.T, handlers map[string]func(body []byte) any) (*fakeCloud, *tencent.Client) {
	t.Helper()
	f := &fakeCloud{handlers: handlers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "id", SecretKey: "key"},
		Region: "ap-guangzhou", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := r.Header.Get("X-TC-Action")
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Action: action, Body: m})
	h := f.handlers[action]
	f.mu.Unlock()
	resp := map[string]any{"RequestId": "req-" + action}
	switch out := any(nil); {
	case h == nil:
		resp["Error"] = map[string]string{"Code": "InvalidAction", "Message": "no handler"}
	default:
		out = h(body)
		if ce, ok := out.(cloudError); ok {
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

func (f *fakeCloud) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}
