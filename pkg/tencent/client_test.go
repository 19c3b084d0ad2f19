package tencent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// A load balancer's HTML 503 page reaches the SDK as a JSON parse error. The
// request may have run, so the error must be ambiguous (look up, then retry):
// classified permanent, it failed jobs whose backup went on to succeed
// (found by the fault soak in internal/reliability).
func TestGatewayErrorPageIsAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"html 503", http.StatusServiceUnavailable, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"},
		{"html 502", http.StatusBadGateway, "<html>bad gateway</html>"},
		{"html 200", http.StatusOK, "<html>captive portal</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
				Region: "ap-guangzhou", Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "CreateBackup"}, struct{}{}, nil)
			if err == nil {
				t.Fatal("no error from a gateway error page")
			}
			if k := apierr.KindOf(err); k != apierr.RetryAfterLookup {
				t.Errorf("kind = %v (%v); want RetryAfterLookup", k, err)
			}
		})
	}
}
