package cosstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/cosemu"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/cosstore"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	id      = "AKIDOBJ"
	sk      = "SKOBJ-very-secret"
	token   = "session/token+="
	bucket  = "backups-1250000000"
	cosHost = bucket + ".cos.ap-guangzhou.myqcloud.com"
)

var t0 = time.Unix(1700000000, 0)

func newCOS(t *testing.T, endpoint string, now time.Time, tok string) *cosstore.Store {
	t.Helper()
	c, err := cosstore.New(cosstore.Config{
		Credentials: tencent.Credentials{SecretID: id, SecretKey: sk, Token: secret.String(tok)},
		Region:      "ap-guangzhou", Endpoint: endpoint, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCOSPresign(t *testing.T) {
	ctx := context.Background()
	c := newCOS(t, "127.0.0.1:1", t0, token) // the endpoint must not leak into URLs
	tests := []struct {
		ttl     time.Duration
		wantEnd time.Duration
	}{
		{0, time.Hour},
		{30 * time.Minute, 30 * time.Minute},
		{5 * time.Hour, 2 * time.Hour},
	}
	for _, tt := range tests {
		raw, err := c.Presign(ctx, bucket, "mssql/db 1.bak", tt.ttl)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme != "https" || u.Host != cosHost || u.EscapedPath() != "/mssql/db%201.bak" {
			t.Errorf("URL points at %s://%s%s", u.Scheme, u.Host, u.EscapedPath())
		}
		q := u.Query()
		want := "1699999940;" + strconv.FormatInt(t0.Add(tt.wantEnd).Unix(), 10)
		if q.Get("q-sign-time") != want || q.Get("q-key-time") != want {
			t.Errorf("ttl %v: window %q; want %q", tt.ttl, q.Get("q-sign-time"), want)
		}
		if q.Get("x-cos-security-token") != token || q.Get("q-url-param-list") != "x-cos-security-token" {
			t.Errorf("token not carried and signed: %q / %q", q.Get("x-cos-security-token"), q.Get("q-url-param-list"))
		}
		if strings.Contains(raw, sk) {
			t.Error("URL contains the secret key")
		}
	}
	if _, err := c.Presign(ctx, bucket, "", 0); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := c.Presign(ctx, "nodash", "k", 0); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("bucket without appid: %v", err)
	}
}

type emuEnv struct {
	emu    *cosemu.Server
	srv    *httptest.Server
	faults *fault.Injector
	addr   string
}

func startEmu(t *testing.T) *emuEnv {
	t.Helper()
	inj := fault.New(0, 1)
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: sk, Faults: inj})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &emuEnv{emu: emu, srv: srv, faults: inj, addr: srv.Listener.Addr().String()}
}

func TestCOSThroughEmulator(t *testing.T) {
	ctx := context.Background()
	env := startEmu(t)
	data := append([]byte("MSSQLBAK"), make([]byte, 1000)...)
	if err := env.emu.Put(bucket, "mssql/orders.bak", data); err != nil {
		t.Fatal(err)
	}
	if err := env.emu.Put(bucket, "tiny", []byte("TAP")); err != nil {
		t.Fatal(err)
	}
	c := newCOS(t, env.addr, time.Now(), "")

	o, err := c.Head(ctx, bucket, "mssql/orders.bak")
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != 1008 || len(o.ETag) != 32 || strings.Contains(o.ETag, `"`) || o.Bucket != bucket || o.Key != "mssql/orders.bak" {
		t.Errorf("Head = %+v", o)
	}
	m, err := c.ReadMagic(ctx, bucket, "mssql/orders.bak")
	if err != nil || string(m) != "MSSQLBAK" {
		t.Errorf("ReadMagic = %q, %v", m, err)
	}
	if m, err := c.ReadMagic(ctx, bucket, "tiny"); err != nil || string(m) != "TAP" {
		t.Errorf("ReadMagic(tiny) = %q, %v", m, err)
	}

	_, err = c.Head(ctx, bucket, "absent")
	var ae *apierr.Error
	if !errors.Is(err, objstore.ErrNotFound) || !errors.As(err, &ae) || ae.Code != "NoSuchKey" || ae.RequestID == "" || ae.Kind != apierr.Permanent {
		t.Errorf("Head(absent) = %v (%+v)", err, ae)
	}
	if _, err := c.ReadMagic(ctx, bucket, "absent"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("ReadMagic(absent) = %v", err)
	}
	if _, err := c.Head(ctx, "nope-1250000000", "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head(no bucket) = %v", err)
	}

	// Put / Get / List / Delete, the ledger's needs.
	if err := c.Put(ctx, bucket, "l/a", []byte("1"), true); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, bucket, "l/a", []byte("2"), true); !errors.Is(err, objstore.ErrExists) {
		t.Errorf("second create = %v; want ErrExists", err)
	}
	if err := c.Put(ctx, bucket, "l/b", []byte("3"), false); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Get(ctx, bucket, "l/a"); err != nil || string(b) != "1" {
		t.Errorf("Get = %q, %v", b, err)
	}
	list, err := c.List(ctx, bucket, "l/")
	if err != nil || len(list) != 2 || list[0].Key != "l/a" || list[1].Key != "l/b" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if err := c.Delete(ctx, bucket, "l/a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, bucket, "l/a"); err != nil {
		t.Errorf("second delete = %v", err)
	}
	if _, err := c.Get(ctx, bucket, "l/a"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get(deleted) = %v", err)
	}
}

// A presigned URL names the real COS host; the emulator resolves it itself,
// so a downloader only needs to reach the emulator's address.
func TestPresignedDownloadThroughEmulator(t *testing.T) {
	env := startEmu(t)
	if err := env.emu.Put(bucket, "mssql/x.bak", []byte("TAPEdata")); err != nil {
		t.Fatal(err)
	}
	c := newCOS(t, env.addr, time.Now(), "")
	raw, err := c.Presign(context.Background(), bucket, "mssql/x.bak", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.emu.CheckURL(context.Background(), raw); err != nil {
		t.Errorf("CheckURL = %v", err)
	}
	// The emulator speaks plain HTTP; the scheme is not signed.
	plain := "http://" + strings.TrimPrefix(raw, "https://")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, env.addr)
	}}}
	req, _ := http.NewRequest(http.MethodGet, plain, nil)
	req.Header.Set("Range", "bytes=0-3") // unsigned extra header: tolerated
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || string(b) != "TAPE" {
		t.Errorf("GET presigned = %d %q", resp.StatusCode, b)
	}
}

// The client signs headers on its injected clock, so a client and an
// emulator sharing a test clock agree even far from the wall clock.
func TestCOSInjectedClock(t *testing.T) {
	ctx := context.Background()
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: sk, Now: func() time.Time { return past }})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	if err := emu.Put(bucket, "k", []byte("TAPE")); err != nil {
		t.Fatal(err)
	}
	if _, err := newCOS(t, srv.Listener.Addr().String(), past, "").Head(ctx, bucket, "k"); err != nil {
		t.Errorf("Head on a shared clock = %v", err)
	}
	_, err := newCOS(t, srv.Listener.Addr().String(), past.Add(3*time.Hour), "").Head(ctx, bucket, "k")
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusForbidden || ae.Kind != apierr.Permanent {
		t.Errorf("Head with a skewed clock = %v; want 403", err)
	}
}

func TestCOSFaultKinds(t *testing.T) {
	ctx := context.Background()
	env := startEmu(t)
	if err := env.emu.Put(bucket, "k", []byte("TAPE")); err != nil {
		t.Fatal(err)
	}
	c := newCOS(t, env.addr, time.Now(), token)
	tests := []struct {
		fault fault.Kind
		want  apierr.Kind
	}{
		{fault.Throttle, apierr.RetryLater},
		{fault.InternalError, apierr.RetryAfterLookup},
		{fault.ServerError, apierr.RetryLater}, // a 503 from a gateway
		{fault.Drop, apierr.RetryAfterLookup},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			env.faults.Force(tt.fault)
			// A PUT, because Go's transport silently retries an idempotent
			// request whose kept-alive connection drops.
			err := c.Put(ctx, bucket, "k2", []byte("x"), false)
			if err == nil {
				t.Fatal("Put succeeded under a fault")
			}
			if got := apierr.KindOf(err); got != tt.want {
				t.Errorf("KindOf(%v) = %v; want %v", err, got, tt.want)
			}
			if strings.Contains(err.Error(), sk) || strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "q-signature") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
	if _, err := c.Head(ctx, bucket, "k"); err != nil {
		t.Errorf("Head after faults = %v", err)
	}
}

func TestNewCOSValidates(t *testing.T) {
	tests := []cosstore.Config{
		{Region: "ap-guangzhou"},
		{Credentials: tencent.Credentials{SecretID: id, SecretKey: sk}, Region: "AP Guangzhou"},
		{Credentials: tencent.Credentials{SecretID: id, SecretKey: sk}, Region: "ap-guangzhou", Endpoint: "ftp://x"},
	}
	for _, cfg := range tests {
		if _, err := cosstore.New(cfg); err == nil {
			t.Errorf("NewCOS(%+v) accepted", cfg)
		} else if strings.Contains(err.Error(), sk) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
}

// countingTransport is a RoundTripper that is not an *http.Transport, as
// any instrumenting or tracing wrapper is.
type countingTransport struct {
	next http.RoundTripper
	n    int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return c.next.RoundTrip(r)
}

// An endpoint override holds whatever transport carries the requests: it
// used to be applied only to an *http.Transport, so a wrapped transport
// sent the emulator's requests to the real COS host.
func TestCOSEndpointWithWrappedTransport(t *testing.T) {
	env := startEmu(t)
	if err := env.emu.Put(bucket, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tr := &countingTransport{next: http.DefaultTransport}
	c, err := cosstore.New(cosstore.Config{
		Credentials: tencent.Credentials{SecretID: id, SecretKey: sk},
		Region:      "ap-guangzhou", Endpoint: env.addr, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.Get(context.Background(), bucket, "k"); err != nil || string(b) != "v" {
		t.Fatalf("Get through a wrapped transport = %q, %v", b, err)
	}
	if tr.n == 0 {
		t.Error("the wrapped transport carried no request")
	}
}
