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

	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/objstoretest"
	"github.com/backupflow/backupflow/pkg/objstore/s3store"
)

func newS3(t *testing.T) (*s3store.Store, *objstoretest.S3) {
	t.Helper()
	fake := objstoretest.NewS3()
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
