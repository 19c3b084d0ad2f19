package tencentemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	testID  = "AKIDtest0000000000000000000000000000"
	testKey = "test-secret-key-000000000000000000"
)

// newClock starts at the real time because the SDK stamps requests with
// time.Now and the server checks skew.
func newClock() *clocktest.Clock { return clocktest.New(time.Now().Truncate(time.Second)) }

type env struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	cli   *tencent.Client
	clock *clocktest.Clock
}

// newEnv starts the emulator behind a real HTTP server. Rate limits are off
// unless the test opts in, because a frozen clock puts every request in one
// second.
func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	c := newClock()
	if o.SecretID == "" {
		o.SecretID, o.SecretKey = testID, testKey
	}
	if o.Now == nil {
		o.Now = c.Now
	}
	s := New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cli := newClient(t, srv.URL, testID, testKey)
	e := &env{t: t, s: s, srv: srv, cli: cli, clock: c}
	t.Cleanup(func() {
		known := map[string]bool{}
		for _, k := range s.Codes() {
			known[k] = true
		}
		for _, code := range s.emittedCodes() {
			if !known[code] {
				t.Errorf("the emulator answered %s, which Codes() does not list", code)
			}
		}
	})
	return e
}

func newClient(t *testing.T, url, id, key string) *tencent.Client {
	t.Helper()
	cli, err := tencent.New(tencent.Config{
		Credentials: tencent.Credentials{SecretID: id, SecretKey: secret.String(key)},
		Region:      "ap-guangzhou", Endpoint: url, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// call sends an action through the project's SDK-based client.
func (e *env) call(service, action string, req, resp any) error {
	e.t.Helper()
	return e.cli.Call(context.Background(), tencent.Action{Service: service, Version: services[service].version, Name: action}, req, resp)
}

// mustCall fails the test on any error.
func (e *env) mustCall(service, action string, req, resp any) {
	e.t.Helper()
	if err := e.call(service, action, req, resp); err != nil {
		e.t.Fatalf("%s %s: %v", service, action, err)
	}
}

// wantCode checks err carries an API error with this code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got success", code)
	}
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want error %s, got %v", code, err)
	}
	if ae.Code != code {
		t.Fatalf("want error %s, got %s (%s)", code, ae.Code, ae.Message)
	}
	if code != "ClientError.NetworkError" && ae.RequestID == "" {
		t.Errorf("error %s has no request id", code)
	}
}

// signTC3 signs a raw request the way the documentation describes, for
// requests the SDK cannot produce (seed query strings, tampering).
func signTC3(r *http.Request, body []byte, service, id, key string, ts int64) {
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	canon := strings.Join([]string{
		r.Method, "/", r.URL.RawQuery,
		"content-type:" + strings.ToLower(r.Header.Get("Content-Type")) + "\nhost:" + r.Host + "\n",
		"content-type;host", sha256hex(body),
	}, "\n")
	scope := date + "/" + service + "/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + scope + "\n" + sha256hex([]byte(canon))
	mac := func(k []byte, m string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(m)); return h.Sum(nil) }
	sig := hex.EncodeToString(mac(mac(mac(mac([]byte("TC3"+key), date), service), "tc3_request"), toSign))
	r.Header.Set("Authorization", fmt.Sprintf("TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=content-type;host, Signature=%s", id, scope, sig))
}

// raw sends a hand-built, TC3-signed request and returns the envelope's Response.
func (e *env) raw(method, service, action, query string, body []byte, mutate func(*http.Request)) map[string]any {
	e.t.Helper()
	u := e.srv.URL + "/"
	if query != "" {
		u += "?" + query
	}
	r, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodGet {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r.Header.Set("Content-Type", "application/json")
	}
	if action != "" {
		r.Header.Set("X-TC-Action", action)
		r.Header.Set("X-TC-Version", services[service].version)
	}
	r.Header.Set("X-TC-Region", "ap-guangzhou")
	signTC3(r, body, service, testID, testKey, time.Now().Unix())
	if mutate != nil {
		mutate(r)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	var env struct{ Response map[string]any }
	if err := json.Unmarshal(b, &env); err != nil {
		e.t.Fatalf("not an envelope: %s", b)
	}
	if _, ok := env.Response["RequestId"].(string); !ok {
		e.t.Fatalf("no RequestId: %s", b)
	}
	return env.Response
}

func errCode(resp map[string]any) string {
	e, _ := resp["Error"].(map[string]any)
	c, _ := e["Code"].(string)
	return c
}

type tencentAction = tencent.Action

func mustClientWithTransport(t *testing.T, url string, rt http.RoundTripper) *tencent.Client {
	t.Helper()
	cli, err := tencent.New(tencent.Config{
		Credentials: tencent.Credentials{SecretID: testID, SecretKey: secret.String(testKey)},
		Region:      "ap-guangzhou", Endpoint: url, Timeout: 10 * time.Second, Transport: rt,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}
