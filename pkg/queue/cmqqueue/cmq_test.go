package cmqqueue

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/cmqemu"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue/cmqsign"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name     string
		fault    fault.Kind
		wantKind apierr.Kind
		wantCode string
	}{
		{"internal error", fault.InternalError, apierr.RetryAfterLookup, "6000"},
		{"throttled", fault.Throttle, apierr.RetryLater, "4420"},
		{"gateway 503", fault.ServerError, apierr.RetryLater, "HTTP503"}, // refused before the API (issue 13 item 7)
		{"gateway 502", fault.GatewayBadGateway, apierr.RetryAfterLookup, "HTTP502"},
		{"gateway 429", fault.GatewayThrottle, apierr.RetryLater, "HTTP429"},
		{"dropped connection", fault.Drop, apierr.RetryAfterLookup, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults := fault.New(0, 1)
			s := newStack(t, cmqemu.Options{Faults: faults})
			q := s.open(t, "errs", false, nil)
			faults.Force(tt.fault)
			_, err := q.Receive(context.Background(), 1, 0)
			if err == nil {
				t.Fatal("Receive under a fault = nil error")
			}
			if got := apierr.KindOf(err); got != tt.wantKind {
				t.Errorf("KindOf(%v) = %v; want %v", err, got, tt.wantKind)
			}
			if got := apierr.Code(err); got != tt.wantCode {
				t.Errorf("Code(%v) = %q; want %q", err, got, tt.wantCode)
			}
		})
	}
}

func TestPermanentErrors(t *testing.T) {
	s := newStack(t, cmqemu.Options{})
	ctx := context.Background()
	tests := []struct {
		name     string
		queue    string
		mutate   func(*Options)
		wantCode string
	}{
		{"wrong key", "q1", func(o *Options) { o.Credentials.SecretKey = "nope" }, "4100"},
		{"missing queue", "", nil, "4440"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q *queue.Queue
			if tt.queue == "" {
				var err error
				q, err = Open("never-created", &Options{Endpoint: s.plane.URL, Credentials: creds, Now: s.clock.Now})
				if err != nil {
					t.Fatal(err)
				}
			} else {
				q = s.open(t, tt.queue, false, tt.mutate)
			}
			_, err := q.Send(ctx, []byte("x"), 0)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tt.wantCode || ae.Kind != apierr.Permanent || ae.Cloud != apierr.CMQ || ae.RequestID == "" {
				t.Fatalf("Send = %v; want a permanent CMQ error %s with a request id", err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), "queue ") {
				t.Errorf("error %q does not name the queue", err)
			}
		})
	}
}

func TestSendCmqMsgErrors(t *testing.T) {
	s := newStack(t, cmqemu.Options{})
	q, err := Open("absent", &Options{Endpoint: s.plane.URL, Credentials: creds, API: s.api, Region: "ap-guangzhou"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Send(context.Background(), []byte("x"), 0)
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Cloud != apierr.Tencent || ae.Action != "SendCmqMsg" {
		t.Fatalf("Send to a missing queue via SendCmqMsg = %v; want an API 3.0 error", err)
	}
}

func TestSignatureMethods(t *testing.T) {
	for _, m := range []string{cmqsign.HmacSHA1, cmqsign.HmacSHA256} {
		t.Run(m, func(t *testing.T) {
			s := newStack(t, cmqemu.Options{})
			q := s.open(t, "sig", false, func(o *Options) { o.SignatureMethod = m })
			if _, err := q.Send(context.Background(), []byte("x"), 0); err != nil {
				t.Fatalf("Send = %v", err)
			}
		})
	}
}

// recorder answers every request with reply and keeps what it received.
type recorder struct {
	mu     sync.Mutex
	reply  string
	status int
	got    []*http.Request
	params []url.Values
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, _ := url.ParseQuery(string(body))
	rec.mu.Lock()
	rec.got = append(rec.got, r)
	rec.params = append(rec.params, p)
	rec.mu.Unlock()
	if rec.status != 0 {
		w.WriteHeader(rec.status)
	}
	io.WriteString(w, rec.reply)
}

func TestWireFormat(t *testing.T) {
	rec := &recorder{reply: `{"code":7000,"message":"(10200)no message","requestId":"1","clientRequestId":0}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := tencent.Credentials{SecretID: testID, SecretKey: secret.String(testKey), Token: "tok/en+1="}
	now := time.Unix(1534154812, 0)
	q, err := Open("test1", &Options{Endpoint: srv.URL + "/v2/index.php", Credentials: c, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := q.Receive(context.Background(), 100, 45*time.Second+time.Millisecond)
	if err != nil || len(ms) != 0 || ms == nil {
		t.Fatalf("Receive on code 7000 = %v, %v; want an empty slice and nil", ms, err)
	}
	r, p := rec.got[0], rec.params[0]
	if r.Method != http.MethodPost || r.URL.Path != "/v2/index.php" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("request %s %s %q; want a form POST to the endpoint's path", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	want := map[string]string{
		"Action": "BatchReceiveMessage", "queueName": "test1", "numOfMsg": "16", "pollingWaitSeconds": "30",
		"Timestamp": "1534154812", "SecretId": testID, "SignatureMethod": "HmacSHA256", "Token": "tok/en+1=",
	}
	for k, v := range want {
		if p.Get(k) != v {
			t.Errorf("param %s = %q; want %q", k, p.Get(k), v)
		}
	}
	if !cmqsign.Verify(http.MethodPost, r.Host, "/v2/index.php", p, testKey) {
		t.Error("signature does not verify against the request's host and path")
	}
}

func TestDeleteInvalidReceipt(t *testing.T) {
	rec := &recorder{reply: `{"code":4430,"message":"(10260)receipt handle is invalid","requestId":"9"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	q, err := Open("q", &Options{Endpoint: srv.URL, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	err = q.Delete(context.Background(), "123")
	if !errors.Is(err, queue.ErrInvalidReceipt) || apierr.Code(err) != "4430" {
		t.Fatalf("Delete = %v; want ErrInvalidReceipt carrying code 4430", err)
	}
	if rec.got[0].URL.Path != "/" {
		t.Errorf("path %q; want / for an endpoint without a path", rec.got[0].URL.Path)
	}
}

func TestUnreadableResponse(t *testing.T) {
	srv := httptest.NewServer(&recorder{reply: `<html>`})
	defer srv.Close()
	q, _ := Open("q", &Options{Endpoint: srv.URL, Credentials: creds})
	_, err := q.Send(context.Background(), []byte("x"), 0)
	if apierr.KindOf(err) != apierr.RetryAfterLookup {
		t.Fatalf("Send with an unreadable 200 = %v (%v); want RetryAfterLookup", err, apierr.KindOf(err))
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr bool
		wantURL string
	}{
		{"region default endpoint", Options{Region: "ap-shanghai", Credentials: creds}, false, "https://cmq-sh.public.tencenttdmq.com"},
		{"unknown region", Options{Region: "mars-1", Credentials: creds}, true, ""},
		{"no credentials", Options{Endpoint: "http://x"}, true, ""},
		{"bad scheme", Options{Endpoint: "ftp://x", Credentials: creds}, true, ""},
		{"bad signature method", Options{Endpoint: "http://x", Credentials: creds, SignatureMethod: "MD5"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := newDriver("q", &tt.o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("newDriver = %v; wantErr %v", err, tt.wantErr)
			}
			if err == nil && d.base.String() != tt.wantURL {
				t.Errorf("endpoint = %s; want %s", d.base, tt.wantURL)
			}
			if err != nil && !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("error %v is not ErrInvalidInput", err)
			}
		})
	}
}

// TestOpenURL opens cmq:// as a function does: settings and credentials
// from the environment (BACKUPFLOW_CMQ_ENDPOINT, BACKUPFLOW_TENCENT_ENDPOINT,
// the SCF role's variables), sending through API 3.0.
func TestOpenURL(t *testing.T) {
	s := newStack(t, cmqemu.Options{AutoCreate: true})
	env := map[string]string{
		"TENCENTCLOUD_SECRETID": testID, "TENCENTCLOUD_SECRETKEY": testKey,
		"BACKUPFLOW_CMQ_ENDPOINT": s.plane.URL, "BACKUPFLOW_TENCENT_ENDPOINT": s.apiURL,
	}
	for _, raw := range []string{"cmq://jobs", "cmq://jobs?region=ap-guangzhou&signature=HmacSHA1&endpoint=" + url.QueryEscape(s.plane.URL)} {
		q, err := queue.Open(context.Background(), raw, openurl.Env{Getenv: func(k string) string { return env[k] }, Now: s.clock.Now})
		if err != nil {
			t.Fatalf("Open(%s) = %v", raw, err)
		}
		if q.Name() != "jobs" || q.MaxDelay() != time.Hour || q.MaxBatch() != 16 {
			t.Errorf("Name, MaxDelay, MaxBatch = %s, %v, %d", q.Name(), q.MaxDelay(), q.MaxBatch())
		}
		if _, err := q.Send(context.Background(), []byte("hi"), time.Second); err != nil {
			t.Fatalf("Send = %v", err)
		}
		s.clock.Advance(time.Second)
		ms, err := q.Receive(context.Background(), 16, 0)
		if err != nil || len(ms) != 1 {
			t.Fatalf("Receive = %d messages, %v; want the one sent", len(ms), err)
		}
		if err := q.Delete(context.Background(), ms[0].Receipt); err != nil {
			t.Fatalf("Delete = %v", err)
		}
	}
	if _, err := queue.Open(context.Background(), "cmq://jobs", openurl.Env{Getenv: func(k string) string {
		return map[string]string{"BACKUPFLOW_CMQ_ENDPOINT": s.plane.URL}[k]
	}}); err == nil || !strings.Contains(err.Error(), "TENCENTCLOUD_SECRET_ID") {
		t.Errorf("Open without credentials = %v; want an error naming the variables", err)
	}
}

func TestSecondsRoundUp(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, time.Hour: 3600} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %d; want %d", d, got, want)
		}
	}
}
