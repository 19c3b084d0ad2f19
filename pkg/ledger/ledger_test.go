package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/cosemu"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/ledger"
	_ "github.com/backupflow/backupflow/pkg/ledger/cosledger" // cos://
	_ "github.com/backupflow/backupflow/pkg/ledger/s3ledger"  // s3://
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/objstoretest"
	"github.com/backupflow/backupflow/pkg/openurl"
)

const (
	id     = "AKIDLEDGER"
	sk     = "SKLEDGER"
	bucket = "backups-1250000000"
)

var seq atomic.Int64

func envOf(m map[string]string) openurl.Env {
	return openurl.Env{Getenv: func(k string) string { return m[k] }}
}

// cosEnv is what a deployed function's environment says about COS, with
// the emulator at srv.
func cosEnv(srv *httptest.Server) openurl.Env {
	return envOf(map[string]string{"TENCENTCLOUD_SECRET_ID": id, "TENCENTCLOUD_SECRET_KEY": sk,
		"TENCENTCLOUD_REGION": "ap-guangzhou", "BACKUPFLOW_COS_ENDPOINT": srv.Listener.Addr().String()})
}

// drivers opens a fresh, empty ledger per call for every backend.
func drivers(t *testing.T) map[string]func(t *testing.T) *ledger.Ledger {
	ctx := context.Background()
	cosAt := func(dir string) func(t *testing.T) *ledger.Ledger {
		return func(t *testing.T) *ledger.Ledger {
			emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: sk, Dir: dir,
				Buckets: []fixture.Bucket{{Name: bucket, Region: "ap-guangzhou"}}})
			srv := httptest.NewServer(emu)
			t.Cleanup(srv.Close)
			l, err := ledger.Open(ctx, "cos://"+bucket+"/ledger/v1", cosEnv(srv))
			if err != nil {
				t.Fatal(err)
			}
			// A record outside the prefix must stay invisible.
			if err := emu.Put(bucket, "ledger/v2/other", []byte("x")); err != nil {
				t.Fatal(err)
			}
			return l
		}
	}
	return map[string]func(t *testing.T) *ledger.Ledger{
		"mem": func(t *testing.T) *ledger.Ledger {
			l, err := ledger.Open(ctx, fmt.Sprintf("mem://conformance-%d", seq.Add(1)), openurl.Env{})
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
		"cos":     cosAt(""),
		"cos-dir": func(t *testing.T) *ledger.Ledger { return cosAt(t.TempDir())(t) },
		"s3": func(t *testing.T) *ledger.Ledger {
			fake := objstoretest.NewS3()
			fake.CheckSignatures("AKIA", "s")
			fake.MaxKeys = 3 // lists page
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			l, err := ledger.Open(ctx, "s3://ledger-bucket/records", envOf(map[string]string{
				"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "BACKUPFLOW_AWS_ENDPOINT": srv.URL}))
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	}
}

func TestConformance(t *testing.T) {
	for name, open := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("claim get put list delete", func(t *testing.T) { testBasics(t, open(t)) })
			t.Run("concurrent claims", func(t *testing.T) { testConcurrentClaim(t, open(t)) })
			t.Run("invalid keys", func(t *testing.T) { testInvalidKeys(t, open(t)) })
		})
	}
}

func testBasics(t *testing.T, l *ledger.Ledger) {
	ctx := context.Background()
	if _, ok, err := l.Get(ctx, "claims/job-1"); ok || err != nil {
		t.Fatalf("Get(absent) = %v, %v", ok, err)
	}
	if ok, err := l.Claim(ctx, "claims/job-1", []byte("first")); !ok || err != nil {
		t.Fatalf("first Claim = %v, %v", ok, err)
	}
	if ok, err := l.Claim(ctx, "claims/job-1", []byte("second")); ok || err != nil {
		t.Fatalf("second Claim = %v, %v", ok, err)
	}
	if v, ok, err := l.Get(ctx, "claims/job-1"); !ok || err != nil || string(v) != "first" {
		t.Fatalf("Get = %q, %v, %v; the loser must not overwrite", v, ok, err)
	}
	if err := l.Put(ctx, "claims/job-1", []byte("done")); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := l.Get(ctx, "claims/job-1"); string(v) != "done" {
		t.Errorf("after Put Get = %q", v)
	}
	if err := l.Put(ctx, "outcome/job-1", []byte{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := l.Get(ctx, "outcome/job-1"); !ok || err != nil || len(v) != 0 {
		t.Errorf("empty value = %q, %v, %v", v, ok, err)
	}
	for _, k := range []string{"claims/job-2", "claims/job-10", "claimsx"} {
		if _, err := l.Claim(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ prefix, want string }{
		{"claims/", "claims/job-1 claims/job-10 claims/job-2"},
		{"claims", "claims/job-1 claims/job-10 claims/job-2 claimsx"},
		{"", "claims/job-1 claims/job-10 claims/job-2 claimsx outcome/job-1"},
		{"nothing/", ""},
	}
	for _, tt := range tests {
		keys, err := l.List(ctx, tt.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keys, " "); got != tt.want {
			t.Errorf("List(%q) = %q; want %q", tt.prefix, got, tt.want)
		}
	}
	if err := l.Delete(ctx, "claims/job-1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, "claims/job-1"); err != nil {
		t.Errorf("second Delete = %v", err)
	}
	if ok, err := l.Claim(ctx, "claims/job-1", []byte("again")); !ok || err != nil {
		t.Errorf("Claim after Delete = %v, %v", ok, err)
	}
	big := bytes.Repeat([]byte("x"), 64<<10)
	if err := l.Put(ctx, "manifests/run-1", big); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := l.Get(ctx, "manifests/run-1"); !bytes.Equal(v, big) {
		t.Error("64 KiB value did not round-trip")
	}
}

func testConcurrentClaim(t *testing.T, l *ledger.Ledger) {
	ctx := context.Background()
	for round := range 3 {
		key := fmt.Sprintf("claims/race-%d", round)
		var wg sync.WaitGroup
		var wins atomic.Int32
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := l.Claim(ctx, key, []byte{byte(i)})
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Errorf("%s: %d claims won; want exactly 1", key, n)
		}
	}
}

func testInvalidKeys(t *testing.T, l *ledger.Ledger) {
	ctx := context.Background()
	for _, k := range []string{"", "/abs", "a//b", "a/../b", "a/", ".", "a\\b", "a\x00b", strings.Repeat("k", 513)} {
		if _, err := l.Claim(ctx, k, nil); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Claim(%q) = %v; want invalid input", k, err)
		}
		if _, _, err := l.Get(ctx, k); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Get(%q) = %v; want invalid input", k, err)
		}
	}
}

func TestMemSharedByName(t *testing.T) {
	ctx := context.Background()
	a, _ := ledger.Open(ctx, "mem://shared-test", openurl.Env{})
	b, _ := ledger.Open(ctx, "mem://shared-test", openurl.Env{})
	c, _ := ledger.Open(ctx, "mem://other-test", openurl.Env{})
	if ok, _ := a.Claim(ctx, "k", []byte("a")); !ok {
		t.Fatal("first claim lost")
	}
	if ok, _ := b.Claim(ctx, "k", []byte("b")); ok {
		t.Error("a second handle on the same name won the claim")
	}
	if ok, _ := c.Claim(ctx, "k", []byte("c")); !ok {
		t.Error("another name shares records")
	}
}

func TestMemTTL(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Unix(1700000000, 0))
	l, err := ledger.Open(ctx, "mem://ttl-test?ttl=1h", openurl.Env{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Claim(ctx, "dedupe/msg-1", nil); !ok {
		t.Fatal("claim lost")
	}
	clk.Advance(59 * time.Minute)
	if ok, _ := l.Claim(ctx, "dedupe/msg-1", nil); ok {
		t.Error("claimed again before the TTL")
	}
	if keys, _ := l.List(ctx, "dedupe/"); len(keys) != 1 {
		t.Errorf("List before TTL = %v", keys)
	}
	clk.Advance(time.Minute)
	if _, ok, _ := l.Get(ctx, "dedupe/msg-1"); ok {
		t.Error("record visible at its expiry")
	}
	if keys, _ := l.List(ctx, "dedupe/"); len(keys) != 0 {
		t.Errorf("List after TTL = %v", keys)
	}
	if ok, _ := l.Claim(ctx, "dedupe/msg-1", nil); !ok {
		t.Error("could not claim an expired record")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	creds := envOf(map[string]string{"TENCENTCLOUD_SECRET_ID": id, "TENCENTCLOUD_SECRET_KEY": sk})
	tests := []struct {
		url string
		env openurl.Env
	}{
		{"mem://", openurl.Env{}},
		{"mem://x?ttl=soon", openurl.Env{}},
		{"redis://x", openurl.Env{}},
		{"cos://" + bucket + "/p", openurl.Env{}}, // no credentials
		{"s3://b/p", openurl.Env{}},
		{"cos:///p", creds},
		{"cos://" + bucket + "/a/../b", creds},
		{"::", openurl.Env{}},
	}
	for _, tt := range tests {
		if _, err := ledger.Open(ctx, tt.url, tt.env); err == nil {
			t.Errorf("Open(%q) succeeded", tt.url)
		}
	}
}

// A store failure surfaces with its kind intact, so the flow can decide.
func TestErrorKindsSurvive(t *testing.T) {
	ctx := context.Background()
	l, err := ledger.New(failing{}, bucket, "p")
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Claim(ctx, "k", nil)
	if apierr.KindOf(err) != apierr.RetryLater {
		t.Errorf("KindOf(%v) = %v", err, apierr.KindOf(err))
	}
}

type failing struct{}

var throttled = &apierr.Error{Cloud: apierr.Tencent, Service: "cos", Code: "SlowDown", Kind: apierr.RetryLater}

func (failing) Get(context.Context, string, string) ([]byte, error)     { return nil, throttled }
func (failing) Put(context.Context, string, string, []byte, bool) error { return throttled }
func (failing) List(context.Context, string, string) ([]objstore.Object, error) {
	return nil, throttled
}
func (failing) Delete(context.Context, string, string) error { return throttled }

// TestCOSLedgerRefusesVersionedBucket (issue 13 item 10): COS promises
// x-cos-forbid-overwrite only where a PUT would overwrite, which on a
// versioned bucket it never does (each PUT adds a version), so two writers
// could both win one claim. Open checks and refuses, naming the fix.
func TestCOSLedgerRefusesVersionedBucket(t *testing.T) {
	for _, status := range []string{"", "Enabled", "Suspended"} {
		t.Run("versioning "+status, func(t *testing.T) {
			emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: sk,
				Buckets: []fixture.Bucket{{Name: bucket, Region: "ap-guangzhou"}}})
			if status != "" {
				emu.SetVersioning(bucket, status)
			}
			srv := httptest.NewServer(emu)
			defer srv.Close()
			_, err := ledger.Open(context.Background(), "cos://"+bucket+"/ledger", cosEnv(srv))
			switch {
			case status == "" && err != nil:
				t.Fatalf("unversioned bucket refused: %v", err)
			case status != "" && err == nil:
				t.Fatalf("a bucket with versioning %s was accepted", status)
			case status != "" && (!strings.Contains(err.Error(), "versioning") || !strings.Contains(err.Error(), "own bucket")):
				t.Errorf("error %q does not say why and what to do", err)
			}
		})
	}
}

// conflicting answers every create-if-absent with ErrExists (a 409 that is
// not "object exists", such as S3's ConditionalRequestConflict) while the
// key is absent.
type conflicting struct{ failing }

func (conflicting) Put(context.Context, string, string, []byte, bool) error {
	return fmt.Errorf("objstore: 409 ConditionalRequestConflict: %w", objstore.ErrExists)
}
func (conflicting) Get(context.Context, string, string) ([]byte, error) {
	return nil, objstore.ErrNotFound
}

// TestClaimRefusedWithNothingThereIsAnError: only an object that exists is
// a claim won by someone else; a refused write with no object is an error
// (retried), never a silently lost claim.
func TestClaimRefusedWithNothingThereIsAnError(t *testing.T) {
	l, err := ledger.New(conflicting{}, bucket, "p")
	if err != nil {
		t.Fatal(err)
	}
	won, err := l.Claim(context.Background(), "k", []byte("v"))
	if err == nil {
		t.Fatalf("Claim = %v, nil; want an error (nothing holds the claim)", won)
	}
	if k := apierr.KindOf(err); k == apierr.Permanent {
		t.Errorf("kind %v; want a retryable error", k)
	}
}
