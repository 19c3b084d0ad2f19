// Uses the COS store, which Lambda builds leave out.

//go:build !lambda.norpc

package cosemu_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/cossign"
	"github.com/backupflow/backupflow/internal/emulator/cosemu"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore/cosstore"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	id     = "AKIDEMU"
	key    = "SKEMU"
	bucket = "backups-1250000000"
	host   = bucket + ".cos.ap-guangzhou.myqcloud.com"
)

var t0 = time.Unix(1700000000, 0)

func bak() []byte { return append([]byte("TAPE\x00\x00\x00\x00"), bytes.Repeat([]byte{1}, 100)...) }

func newCOS(t *testing.T, sk string, now time.Time, endpoint string) *cosstore.Store {
	t.Helper()
	c, err := cosstore.New(cosstore.Config{
		Credentials: tencent.Credentials{SecretID: id, SecretKey: secret.String(sk)},
		Region:      "ap-guangzhou", Endpoint: endpoint, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	// Each case reads its own clock: the cases go back and forth in time,
	// and the one clock only moves forward.
	clk := clocktest.New(t0)
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Now: func() time.Time { return clk.Now() }})
	for k, v := range map[string][]byte{
		"mssql/orders.bak":      bak(),
		"mssql/compressed.bak":  []byte("MSSQLBAK and the rest"),
		"mssql/zipped.bak":      []byte("PK\x03\x04zip"),
		"mssql/db 1 (prod).bak": bak(),
	} {
		if err := emu.Put(bucket, k, v); err != nil {
			t.Fatal(err)
		}
	}
	good := newCOS(t, key, t0, "")
	presign := func(c *cosstore.Store, b, k string) string {
		u, err := c.Presign(ctx, b, k, time.Hour)
		if err != nil {
			t.Fatalf("Presign(%s): %v", k, err)
		}
		return u
	}
	tests := []struct {
		name     string
		url      string
		now      time.Time
		wantCode string // "" = accepted
		invalid  bool   // objstore magic rejection
	}{
		{"valid", presign(good, bucket, "mssql/orders.bak"), t0.Add(time.Minute), "", false},
		{"valid at backdated start", presign(good, bucket, "mssql/orders.bak"), t0.Add(-59 * time.Second), "", false},
		{"spaces and parentheses", presign(good, bucket, "mssql/db 1 (prod).bak"), t0, "", false},
		{"compressed backup", presign(good, bucket, "mssql/compressed.bak"), t0, "", false},
		{"expired", presign(good, bucket, "mssql/orders.bak"), t0.Add(time.Hour + time.Second), "AccessDenied", false},
		{"clock behind", presign(good, bucket, "mssql/orders.bak"), t0.Add(-2 * time.Minute), "RequestTimeTooSkewed", false},
		{"tampered key", strings.Replace(presign(good, bucket, "mssql/orders.bak"), "orders", "orderz", 1), t0, "SignatureDoesNotMatch", false},
		{"wrong secret", presign(newCOS(t, "not-the-key", t0, ""), bucket, "mssql/orders.bak"), t0, "SignatureDoesNotMatch", false},
		{"missing object", presign(good, bucket, "mssql/absent.bak"), t0, "NoSuchKey", false},
		{"missing bucket", presign(good, "other-1250000000", "mssql/orders.bak"), t0, "NoSuchBucket", false},
		{"zip", presign(good, bucket, "mssql/zipped.bak"), t0, "", true},
		{"not a url", "::", t0, "InvalidURI", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk = clocktest.New(tt.now)
			err := emu.CheckURL(ctx, tt.url)
			var e *cosemu.Error
			switch {
			case tt.invalid:
				if !errors.Is(err, apierr.ErrInvalidInput) || !strings.Contains(err.Error(), "zip") {
					t.Fatalf("CheckURL = %v; want invalid input naming zip", err)
				}
			case tt.wantCode == "":
				if err != nil {
					t.Fatalf("CheckURL = %v; want nil", err)
				}
			case !errors.As(err, &e) || e.Code != tt.wantCode:
				t.Fatalf("CheckURL = %v; want code %s", err, tt.wantCode)
			}
			if err != nil && tt.url != "::" {
				u, _ := url.Parse(tt.url)
				if sig := u.Query().Get("q-signature"); strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), "q-") {
					t.Errorf("error leaks the URL: %v", err)
				}
			}
		})
	}
	clk = clocktest.New(t0.Add(2 * time.Hour))
	var e *cosemu.Error
	if err := emu.CheckURL(ctx, presign(good, bucket, "mssql/orders.bak")); !errors.As(err, &e) || e.Message != "Request has expired" {
		t.Errorf("expired message = %v", err)
	}
}

// signed builds a request to the emulator signed with the Authorization
// header by cossign, as the SDK would.
func signed(t *testing.T, srvURL, method, rawURL string, body []byte, hdr http.Header, now time.Time) *http.Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, srvURL+u.RequestURI(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = u.Host
	for k, v := range hdr {
		req.Header[k] = v
	}
	auth := cossign.Sign(cossign.Params{SecretID: id, SecretKey: key, Method: method, Path: u.Path, Query: u.Query(),
		Header: http.Header{"Host": {u.Host}}, Start: now.Add(-time.Minute), End: now.Add(time.Hour)})
	req.Header.Set("Authorization", auth)
	return req
}

type errXML struct {
	Code, Message, RequestId string
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte, errXML) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e errXML
	if resp.StatusCode >= 300 && len(b) > 0 {
		if err := xml.Unmarshal(b, &e); err != nil {
			t.Fatalf("error body is not COS XML: %v: %s", err, b)
		}
		if e.RequestId == "" || e.RequestId != resp.Header.Get("x-cos-request-id") {
			t.Errorf("request id body %q header %q", e.RequestId, resp.Header.Get("x-cos-request-id"))
		}
	}
	return resp, b, e
}

func TestHTTP(t *testing.T) {
	now := t0
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Now: func() time.Time { return now }})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	obj := "https://" + host + "/mssql/a.bak"

	// PUT, then PUT again with forbid-overwrite.
	resp, _, _ := do(t, signed(t, srv.URL, "PUT", obj, bak(), nil, now))
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+md5hex(bak())+`"` {
		t.Fatalf("PUT = %d etag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	resp, _, e := do(t, signed(t, srv.URL, "PUT", obj, []byte("x"), http.Header{"X-Cos-Forbid-Overwrite": {"true"}}, now))
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("forbidden overwrite = %d %s", resp.StatusCode, e.Code)
	}
	resp, _, _ = do(t, signed(t, srv.URL, "PUT", "https://"+host+"/mssql/new.bak", []byte("TAPE"), http.Header{"X-Cos-Forbid-Overwrite": {"true"}}, now))
	if resp.StatusCode != 200 {
		t.Errorf("forbid-overwrite on a new key = %d", resp.StatusCode)
	}

	// Range GET.
	resp, b, _ := do(t, signed(t, srv.URL, "GET", obj, nil, http.Header{"Range": {"bytes=0-3"}}, now))
	if resp.StatusCode != http.StatusPartialContent || string(b) != "TAPE" {
		t.Errorf("range GET = %d %q", resp.StatusCode, b)
	}

	// Errors.
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"missing key", signed(t, srv.URL, "GET", "https://"+host+"/nope", nil, nil, now), 404, "NoSuchKey"},
		{"missing bucket", signed(t, srv.URL, "GET", "https://nope-1250000000.cos.ap-guangzhou.myqcloud.com/x", nil, nil, now), 404, "NoSuchBucket"},
		{"wrong region", signed(t, srv.URL, "GET", "https://"+bucket+".cos.ap-beijing.myqcloud.com/mssql/a.bak", nil, nil, now), 404, "NoSuchBucket"},
		{"expired", signed(t, srv.URL, "GET", obj, nil, nil, now.Add(-3*time.Hour)), 403, "AccessDenied"},
		{"unsigned", func() *http.Request {
			r := signed(t, srv.URL, "GET", obj, nil, nil, now)
			r.Header.Del("Authorization")
			return r
		}(), 403, "AccessDenied"},
		{"unknown key id", func() *http.Request {
			r := signed(t, srv.URL, "GET", obj, nil, nil, now)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "q-ak="+id, "q-ak=AKIDOTHER", 1))
			return r
		}(), 403, "InvalidAccessKeyId"},
		{"bad signature", func() *http.Request {
			r := signed(t, srv.URL, "GET", obj, nil, nil, now)
			r.URL.Path = "/mssql/b.bak"
			return r
		}(), 403, "SignatureDoesNotMatch"},
		{"delete bucket not allowed", signed(t, srv.URL, "DELETE", "https://"+host+"/", nil, nil, now), 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, e := do(t, tt.req)
			if resp.StatusCode != tt.status || e.Code != tt.code {
				t.Errorf("= %d %s; want %d %s", resp.StatusCode, e.Code, tt.status, tt.code)
			}
		})
	}
	_, _, e = do(t, signed(t, srv.URL, "GET", obj, nil, nil, now.Add(-3*time.Hour)))
	if e.Message != "Request has expired" {
		t.Errorf("expired message = %q", e.Message)
	}

	// Path-style fallback.
	resp, b, _ = do(t, signed(t, srv.URL, "GET", "http://127.0.0.1:9000/"+bucket+"/mssql/a.bak", nil, nil, now))
	if resp.StatusCode != 200 || !bytes.Equal(b, bak()) {
		t.Errorf("path-style GET = %d", resp.StatusCode)
	}

	// Delete, then it is gone.
	resp, _, _ = do(t, signed(t, srv.URL, "DELETE", obj, nil, nil, now))
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE = %d", resp.StatusCode)
	}
	resp, _, _ = do(t, signed(t, srv.URL, "HEAD", obj, nil, nil, now))
	if resp.StatusCode != 404 {
		t.Errorf("HEAD after delete = %d", resp.StatusCode)
	}
}

type listXML struct {
	IsTruncated bool
	NextMarker  string
	Contents    []struct{ Key string }
}

func TestList(t *testing.T) {
	now := t0
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Now: func() time.Time { return now }})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	for _, k := range []string{"a/3", "a/1", "a/2", "b/1", "a"} {
		if err := emu.Put(bucket, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query     string
		want      string
		truncated bool
	}{
		{"", "a a/1 a/2 a/3 b/1", false},
		{"?prefix=a%2F", "a/1 a/2 a/3", false},
		{"?prefix=a%2F&max-keys=2", "a/1 a/2", true},
		{"?prefix=a%2F&marker=a%2F2", "a/3", false},
		{"?prefix=c", "", false},
	}
	for _, tt := range tests {
		resp, b, _ := do(t, signed(t, srv.URL, "GET", "https://"+host+"/"+tt.query, nil, nil, now))
		var l listXML
		if err := xml.Unmarshal(b, &l); err != nil || resp.StatusCode != 200 {
			t.Fatalf("list %s = %d %v", tt.query, resp.StatusCode, err)
		}
		var keys []string
		for _, c := range l.Contents {
			keys = append(keys, c.Key)
		}
		if got := strings.Join(keys, " "); got != tt.want || l.IsTruncated != tt.truncated {
			t.Errorf("list %s = %q truncated %v; want %q %v", tt.query, got, l.IsTruncated, tt.want, tt.truncated)
		}
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	now := t0
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Dir: dir, Now: func() time.Time { return now },
		Buckets: []fixture.Bucket{{Name: bucket, Region: "ap-guangzhou"}}})
	// A user drops a file in.
	if err := os.MkdirAll(filepath.Join(dir, bucket, "mssql"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bucket, "mssql", "dropped.bak"), bak(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCOS(t, key, now, "")
	u, err := c.Presign(context.Background(), bucket, "mssql/dropped.bak", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.CheckURL(context.Background(), u); err != nil {
		t.Errorf("CheckURL(dropped file) = %v", err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	obj := "https://" + host + "/ledger/claims/x"
	for i, want := range []int{200, 409} {
		resp, _, _ := do(t, signed(t, srv.URL, "PUT", obj, []byte{byte(i)}, http.Header{"X-Cos-Forbid-Overwrite": {"true"}}, now))
		if resp.StatusCode != want {
			t.Errorf("PUT #%d = %d; want %d", i, resp.StatusCode, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, bucket, "ledger", "claims", "x")); err != nil || !bytes.Equal(b, []byte{0}) {
		t.Errorf("file = %v, %v", b, err)
	}
	resp, b, _ := do(t, signed(t, srv.URL, "GET", "https://"+host+"/?prefix=", nil, nil, now))
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<Key>ledger/claims/x</Key>") || !strings.Contains(string(b), "<Key>mssql/dropped.bak</Key>") || strings.Contains(string(b), "cosemu-tmp") {
		t.Errorf("list = %d %s", resp.StatusCode, b)
	}
	resp, _, e := do(t, signed(t, srv.URL, "PUT", "https://"+host+"/a/../../escape", []byte("x"), nil, now))
	if resp.StatusCode != 400 {
		t.Errorf("PUT escaping key = %d %s", resp.StatusCode, e.Code)
	}
}

func TestConcurrentForbidOverwrite(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Dir: dir})
		srv := httptest.NewServer(emu)
		var wg sync.WaitGroup
		codes := make(chan int, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := signed(t, srv.URL, "PUT", "https://"+host+"/claims/job-1", []byte{byte(i)}, http.Header{"X-Cos-Forbid-Overwrite": {"true"}}, time.Now())
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		won := 0
		for c := range codes {
			if c == 200 {
				won++
			} else if c != 409 {
				t.Errorf("status %d", c)
			}
		}
		if won != 1 {
			t.Errorf("dir %q: %d writers won; want 1", dir, won)
		}
		srv.Close()
	}
}

func TestSessionToken(t *testing.T) {
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, SessionToken: "tok", Now: func() time.Time { return t0 }})
	if err := emu.Put(bucket, "k.bak", bak()); err != nil {
		t.Fatal(err)
	}
	presign := func(token string) string {
		c, err := cosstore.New(cosstore.Config{Region: "ap-guangzhou", Now: func() time.Time { return t0 },
			Credentials: tencent.Credentials{SecretID: id, SecretKey: key, Token: secret.String(token)}})
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.Presign(context.Background(), bucket, "k.bak", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if err := emu.CheckURL(context.Background(), presign("tok")); err != nil {
		t.Errorf("with token: %v", err)
	}
	var e *cosemu.Error
	if err := emu.CheckURL(context.Background(), presign("")); !errors.As(err, &e) || e.Status != 403 {
		t.Errorf("without token: %v", err)
	}
	if err := emu.CheckURL(context.Background(), presign("other")); !errors.As(err, &e) || e.Status != 403 {
		t.Errorf("wrong token: %v", err)
	}
}
