package cmqemu

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServeHTTP feeds arbitrary request bodies (signed or not) to the data
// plane: it must always answer a JSON envelope with a code, never panic.
func FuzzServeHTTP(f *testing.F) {
	f.Add("POST", "Action=SendMessage&queueName=test1&msgBody=x")
	f.Add("GET", "Action=BatchDeleteMessage&receiptHandle.0=1&receiptHandle.1=2")
	f.Add("POST", "Action=BatchSendMessage&msgBody.1=a&msgBody.99999999999999999999=b")
	f.Add("POST", "%zz=&&=;")
	const common = "Timestamp=1&Nonce=1&SecretId=AKIDx&Signature=x&queueName=test1&"
	f.Add("POST", common+"Action=SendMessage&msgBody=x&delaySeconds=5")
	f.Add("POST", common+"Action=BatchSendMessage&msgBody.0=a&msgBody.1=b")
	f.Add("POST", common+"Action=BatchReceiveMessage&numOfMsg=16&pollingWaitSeconds=30")
	f.Add("GET", common+"Action=ReceiveMessage")
	f.Add("POST", common+"Action=BatchDeleteMessage&receiptHandle.1=100000000007919")
	b := New(Options{AutoCreate: true}) // signature checks off: reach the actions
	b.CreateQueue("test1")
	f.Fuzz(func(t *testing.T, method, body string) {
		var r *http.Request
		if method == "GET" {
			r = httptest.NewRequest("GET", "/", nil)
			r.URL.RawQuery = body
		} else {
			r = httptest.NewRequest("POST", "/v2/index.php", strings.NewReader(body))
		}
		// A cancelled context ends any long poll at once.
		ctx, cancel := context.WithCancel(r.Context())
		cancel()
		r = r.WithContext(ctx)
		w := httptest.NewRecorder()
		b.ServeHTTP(w, r)
		var a struct {
			Code *int `json:"code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Code == nil {
			t.Fatalf("answer %q is not an envelope: %v", w.Body, err)
		}
	})
}
