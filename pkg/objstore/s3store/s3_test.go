package s3store_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/objstoretest"
	"github.com/backupflow/backupflow/pkg/objstore/s3store"
)

func newS3(t *testing.T) (*s3store.Store, *objstoretest.S3) {
	t.Helper()
	fake := objstoretest.NewS3()
	fake.CheckSignatures("AKIAEXAMPLE", "s3-secret")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s, err := s3store.New(s3store.Config{Region: "us-east-1", AccessKeyID: "AKIAEXAMPLE",
		SecretAccessKey: "s3-secret", SessionToken: "s3-token", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s, fake
}

func TestS3(t *testing.T) {
	ctx := context.Background()
	s, fake := newS3(t)
	fake.PutObject("bk", "mssql/a.bak", []byte("TAPE1234567890"))

	o, err := s.Head(ctx, "bk", "mssql/a.bak")
	if err != nil || o.Size != 14 || len(o.ETag) != 32 {
		t.Errorf("Head = %+v, %v", o, err)
	}
	if m, err := s.ReadMagic(ctx, "bk", "mssql/a.bak"); err != nil || string(m) != "TAPE1234" {
		t.Errorf("ReadMagic = %q, %v", m, err)
	}
	if _, err := s.Head(ctx, "bk", "absent"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head(absent) = %v", err)
	}
	if err := s.Put(ctx, "bk", "claims/1", []byte("x"), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "bk", "claims/1", []byte("y"), true); !errors.Is(err, objstore.ErrExists) {
		t.Errorf("second create = %v", err)
	}
	if err := s.Put(ctx, "bk", "claims/2", []byte("z"), false); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Get(ctx, "bk", "claims/1"); err != nil || string(b) != "x" {
		t.Errorf("Get = %q, %v", b, err)
	}
	list, err := s.List(ctx, "bk", "claims/")
	if err != nil || len(list) != 2 {
		t.Errorf("List = %+v, %v", list, err)
	}
	if err := s.Delete(ctx, "bk", "claims/1"); err != nil {
		t.Fatal(err)
	}

	// Request shape: the create-if-absent puts carry If-None-Match: *, the
	// plain put does not, the magic read is a Range GET.
	var puts []string
	var rng string
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPut {
			puts = append(puts, r.Key+"="+r.IfNoneMatch)
		}
		if r.Method == http.MethodGet && r.Key == "mssql/a.bak" {
			rng = r.Range
		}
	}
	if got := strings.Join(puts, " "); got != "claims/1=* claims/1=* claims/2=" {
		t.Errorf("puts = %q", got)
	}
	if rng != "bytes=0-7" {
		t.Errorf("Range = %q", rng)
	}

	raw, err := s.Presign(ctx, "bk", "mssql/a.bak", 5*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	if q := u.Query(); q.Get("X-Amz-Expires") != "7200" || q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Security-Token") != "s3-token" {
		t.Errorf("presigned query = %v", q)
	}
	if strings.Contains(raw, "s3-secret") {
		t.Error("URL contains the secret")
	}
}

// TestKeysAndPages: keys with bytes S3 escapes are signed as sent (the
// fake recomputes each signature with the SDK's signer), and a list reads
// every page.
func TestKeysAndPages(t *testing.T) {
	ctx := context.Background()
	s, fake := newS3(t)
	fake.MaxKeys = 2
	// In key order, which is byte order: ü sorts last.
	keys := []string{"open/a b.json", "open/x*~!'().json", "open/y=&?.json", "open/z", "open/ü+%25.json"}
	for _, k := range keys {
		if err := s.Put(ctx, "bk", k, []byte(k), true); err != nil {
			t.Fatalf("Put(%q) = %v", k, err)
		}
		if b, err := s.Get(ctx, "bk", k); err != nil || string(b) != k {
			t.Errorf("Get(%q) = %q, %v", k, b, err)
		}
	}
	list, err := s.List(ctx, "bk", "open/")
	if err != nil || len(list) != len(keys) {
		t.Fatalf("List = %d objects, %v; want %d", len(list), err, len(keys))
	}
	for i, o := range list {
		if o.Key != keys[i] || o.Size != int64(len(keys[i])) {
			t.Errorf("List[%d] = %+v; want key %q", i, o, keys[i])
		}
	}
	if got := len(fake.Requests()); got != 2*len(keys)+3 {
		t.Errorf("%d requests; want %d (a list of 5 in pages of 2 is 3 calls)", got, 2*len(keys)+3)
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	fake := objstoretest.NewS3()
	fake.CheckSignatures("AKIAEXAMPLE", "s3-secret")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s, err := s3store.New(s3store.Config{Region: "us-east-1", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "not-it", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(context.Background(), "bk", "k", []byte("x"), false)
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != "SignatureDoesNotMatch" || ae.Kind != apierr.Permanent || ae.RequestID == "" {
		t.Errorf("Put with a wrong secret = %v; want a permanent SignatureDoesNotMatch with a request id", err)
	}
}

// recorder answers every request with status and remembers its URL.
type recorder struct {
	status int
	urls   []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: r.status, Header: http.Header{"Content-Length": {"3"}}, Body: http.NoBody, Request: req}, nil
}

// TestAddressing: on AWS a bucket is a virtual host unless its name has a
// dot; an endpoint is path-style; a gateway's bodiless refusal is named by
// its status.
func TestAddressing(t *testing.T) {
	rec := &recorder{status: 200}
	s, err := s3store.New(s3store.Config{Region: "eu-west-1", AccessKeyID: "AK", SecretAccessKey: "sk", HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _ = s.Head(ctx, "bk", "a b/c")
	_, _ = s.Head(ctx, "my.bk", "k")
	_, _ = s.List(ctx, "bk", "p")
	want := []string{
		"https://bk.s3.eu-west-1.amazonaws.com/a%20b/c",
		"https://s3.eu-west-1.amazonaws.com/my.bk/k",
		"https://bk.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=p",
	}
	if strings.Join(rec.urls, "\n") != strings.Join(want, "\n") {
		t.Errorf("URLs:\n%s\nwant:\n%s", strings.Join(rec.urls, "\n"), strings.Join(want, "\n"))
	}
	for _, tt := range []struct {
		status int
		kind   apierr.Kind
		is     error
	}{{404, apierr.Permanent, objstore.ErrNotFound}, {503, apierr.RetryLater, nil}, {500, apierr.RetryAfterLookup, nil}, {412, apierr.Permanent, objstore.ErrExists}} {
		rec.status = tt.status
		_, err := s.Head(ctx, "bk", "k")
		if apierr.KindOf(err) != tt.kind || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("HEAD answered %d: %v (kind %v); want kind %v", tt.status, err, apierr.KindOf(err), tt.kind)
		}
	}
}

// TestEmptyKeyIsRefused: an object call with an empty key (an event can
// carry one) is refused before any request. Addressed as the bucket it
// was DELETE /bucket (DeleteBucket), PUT /bucket (CreateBucket), and a
// GET read the bucket's listing as the object.
func TestEmptyKeyIsRefused(t *testing.T) {
	rec := &recorder{status: 204}
	s, err := s3store.New(s3store.Config{Region: "us-east-1", AccessKeyID: "AK", SecretAccessKey: "sk", Endpoint: "http://127.0.0.1:1",
		HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Head":      func() error { _, err := s.Head(ctx, "bk", ""); return err },
		"Get":       func() error { _, err := s.Get(ctx, "bk", ""); return err },
		"ReadMagic": func() error { _, err := s.ReadMagic(ctx, "bk", ""); return err },
		"Put":       func() error { return s.Put(ctx, "bk", "", []byte("x"), false) },
		"Delete":    func() error { return s.Delete(ctx, "bk", "") },
		"Presign":   func() error { _, err := s.Presign(ctx, "bk", "", time.Hour); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("%s(bk, \"\") = %v; want ErrInvalidInput", name, err)
		}
	}
	if len(rec.urls) != 0 {
		t.Errorf("requests sent: %v; want none", rec.urls)
	}
}

// TestGetReturnsTheStoredBytes: an object stored gzip-encoded is read as
// stored. net/http asked for gzip on its own and un-gzipped the answer,
// so Get and ReadMagic saw different bytes.
func TestGetReturnsTheStoredBytes(t *testing.T) {
	stored := []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x2a\xc9\xc8\x2c\x06\x04\x00\x00\xff\xff\xaa\x8c\xff\x76\x04\x00\x00\x00")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(stored)
	}))
	defer srv.Close()
	s, err := s3store.New(s3store.Config{Region: "us-east-1", AccessKeyID: "AK", SecretAccessKey: "sk", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "bk", "k.gz")
	if err != nil || string(got) != string(stored) {
		t.Errorf("Get = %q, %v; want the %d stored bytes", got, err, len(stored))
	}
}
