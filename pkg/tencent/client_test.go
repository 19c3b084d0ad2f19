package tencent_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// A load balancer's HTML page reaches the SDK as a JSON parse error. It must
// never be permanent: classified so, it failed jobs whose backup went on to
// succeed (found by the fault soak in internal/reliability). A 502 or an
// HTML 200 may have run (look up, then retry); a 503 was refused before it
// reached the API and retries later (issue 13 item 7).
func TestGatewayErrorPageIsAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   apierr.Kind
	}{
		{"html 503", http.StatusServiceUnavailable, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", apierr.RetryLater},
		{"html 502", http.StatusBadGateway, "<html>bad gateway</html>", apierr.RetryAfterLookup},
		{"html 200", http.StatusOK, "<html>captive portal</html>", apierr.RetryAfterLookup},
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
			if k := apierr.KindOf(err); k != tc.want {
				t.Errorf("kind = %v (%v); want %v", k, err, tc.want)
			}
		})
	}
}

func rawServer(t *testing.T, answer string, got *[]byte) *tencent.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if got != nil {
			*got = b
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
		Region: "ap-guangzhou", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The SDK's generic request keeps parameters in a map; decoded the default
// way, every number passes through float64 and ids above 2^53 change.
func TestNumericIDsKeepFullPrecision(t *testing.T) {
	var body []byte
	c := rawServer(t, `{"Response":{"RequestId":"r1"}}`, &body)
	req := struct {
		BackupId uint64
		FlowId   int64
	}{BackupId: 18446744073709551615, FlowId: 9007199254740993}
	if err := c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "DescribeBackups"}, req, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"BackupId":18446744073709551615`, `"FlowId":9007199254740993`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}
}

// A 200 whose Response does not decode says nothing about whether a create
// took effect: ambiguous (look up, then retry), never permanent.
func TestUndecodableAnswerIsAmbiguous(t *testing.T) {
	for _, answer := range []string{`{"Response":{"BackupId":"not-a-number","RequestId":"r1"}}`, `{"Response":[1,2]}`, `not json at all`} {
		c := rawServer(t, answer, nil)
		var resp struct{ BackupId uint64 }
		err := c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "CreateBackup"}, struct{}{}, &resp)
		if apierr.KindOf(err) != apierr.RetryAfterLookup {
			t.Errorf("answer %s: err = %v (kind %v); want retry-after-lookup", answer, err, apierr.KindOf(err))
		}
	}
}

// hostRecorder sends every request to the test server but records the host
// the SDK addressed, so the international site's names can be checked
// without leaving the machine.
type hostRecorder struct {
	target string
	mu     sync.Mutex
	hosts  []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Scheme+"://"+r.Host)
	h.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host = "http", h.target
	return http.DefaultTransport.RoundTrip(r2)
}

// The international site is a root domain: each product is reached at
// <service>.intl.tencentcloudapi.com; a per-product override wins.
func TestRootDomainAndPerProductEndpoints(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"Response":{"RequestId":"r1"}}`))
	}))
	t.Cleanup(srv.Close)
	rec := &hostRecorder{target: strings.TrimPrefix(srv.URL, "http://")}
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
		Region: "ap-singapore", RootDomain: "intl.tencentcloudapi.com",
		Endpoints: map[string]string{"mongodb": "https://mongodb.ap-singapore.intl.tencentcloudapi.com"}, Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"cdb", "sqlserver", "mongodb"} {
		if err := c.Call(context.Background(), tencent.Action{Service: svc, Version: "v", Name: "DescribeDBInstances"}, struct{}{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"https://cdb.intl.tencentcloudapi.com", "https://sqlserver.intl.tencentcloudapi.com",
		"https://mongodb.ap-singapore.intl.tencentcloudapi.com"}
	if !slices.Equal(rec.hosts, want) {
		t.Errorf("hosts = %v; want %v", rec.hosts, want)
	}
}

func TestParseEndpoints(t *testing.T) {
	got, err := tencent.ParseEndpoints("cdb=cdb.ap-singapore.intl.tencentcloudapi.com, sqlserver=https://sqlserver.intl.tencentcloudapi.com")
	if err != nil || len(got) != 2 || got["cdb"] != "cdb.ap-singapore.intl.tencentcloudapi.com" {
		t.Errorf("ParseEndpoints = %v, %v", got, err)
	}
	for _, bad := range []string{"cdb", "=x", "cdb=", "cdb=a,cdb=b", "cdb=ftp://x"} {
		if _, err := tencent.ParseEndpoints(bad); err == nil {
			t.Errorf("ParseEndpoints(%q) accepted", bad)
		}
	}
}

// The answer reaches the caller's struct digit for digit: the SDK's generic
// response decoded it into a map of float64s, and an id above 2^53 came
// back changed.
func TestAnswerNumbersKeepFullPrecision(t *testing.T) {
	c := rawServer(t, `{"Response":{"BackupId":9007199254740993,"Size":18446744073709551615,"RequestId":"r1"}}`, nil)
	var resp struct {
		BackupId int64
		Size     uint64
	}
	if err := c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "CreateBackup"}, struct{}{}, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.BackupId != 9007199254740993 || resp.Size != 18446744073709551615 {
		t.Errorf("decoded %+v; want BackupId 9007199254740993, Size 18446744073709551615", resp)
	}
}

// Config.Timeout bounds each exchange, also below a second (the SDK's own
// timeout counts whole seconds, and 0 means none); an exchange cut short
// may have run, so it is ambiguous.
func TestTimeoutBoundsTheExchange(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		_, _ = w.Write([]byte(`{"Response":{"RequestId":"r1"}}`))
	}))
	defer srv.Close()
	defer close(release)
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
		Region: "ap-guangzhou", Endpoint: srv.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "CreateBackup"}, struct{}{}, nil)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("call took %s; want about the 100 ms timeout", took)
	}
	if err == nil || apierr.KindOf(err) != apierr.RetryAfterLookup {
		t.Errorf("err = %v (kind %v); want an ambiguous network error", err, apierr.KindOf(err))
	}
}

// Call leaves the error envelope of an answer to the SDK's first reading of
// it and skips the SDK's second; for the content types that first reading
// passes over, the second is the only one and must stay. Each envelope form
// must come back as its cloud error whatever the content type.
func TestErrorEnvelopeReportedForEveryContentType(t *testing.T) {
	envelopes := []struct {
		name, body, code, requestID string
	}{
		{"api 3.0", `{"Response":{"Error":{"Code":"InvalidParameter","Message":"bad"},"RequestId":"r-1"}}`, "InvalidParameter", "r-1"},
		{"deprecated", `{"code":4000,"codeDesc":"InvalidParameter.Old","message":"bad"}`, "InvalidParameter.Old", ""},
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/octet-stream", "text/plain", ""} {
		for _, env := range envelopes {
			t.Run(ct+"/"+env.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header()["Content-Type"] = []string{ct}
					_, _ = w.Write([]byte(env.body))
				}))
				defer srv.Close()
				c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
					Region: "ap-guangzhou", Endpoint: srv.URL})
				if err != nil {
					t.Fatal(err)
				}
				var out struct{ RequestId string }
				err = c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "DescribeBackups"}, struct{}{}, &out)
				var ae *apierr.Error
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v (answer %+v); want the cloud error %s", err, out, env.code)
				}
				if ae.Code != env.code || ae.Message != "bad" || ae.RequestID != env.requestID {
					t.Errorf("error = code %q message %q request %q; want %q, \"bad\", %q", ae.Code, ae.Message, ae.RequestID, env.code, env.requestID)
				}
			})
		}
	}
}
