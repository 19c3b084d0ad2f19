package interop_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/ledger"
	_ "github.com/backupflow/backupflow/pkg/ledger/s3ledger" // s3://
	"github.com/backupflow/backupflow/pkg/openurl"
)

const s3Client = "gofakes3"

func s3Ledger(t *testing.T, endpoint, url string) (*ledger.Ledger, error) {
	// The variables a Lambda function's ledger driver reads.
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAINTEROP",
		"AWS_SECRET_ACCESS_KEY": "interop-secret", "BACKUPFLOW_AWS_ENDPOINT": endpoint}
	return ledger.Open(context.Background(), url, openurl.Env{Getenv: func(k string) string { return env[k] }})
}

// TestS3LedgerConditionalWrites: the deployed S3 ledger driver's claims hold
// on a server nobody here wrote: of many concurrent claims on one key exactly
// one wins, a later claim loses, and the winner's value stays.
func TestS3LedgerConditionalWrites(t *testing.T) {
	srv := startS3(t, "backupflow-ledger")
	l, err := s3Ledger(t, srv.URL, "s3://backupflow-ledger/interop")
	check(t, s3Client, "ledger opens on a third-party S3 server", func(c *R) {
		if err != nil {
			c.Errorf("open: %v", err)
		}
	})
	if err != nil {
		return
	}
	// The finding the ledger's claims rest on, asked of the server itself
	// over HTTP: a PUT with If-None-Match: * writes a new key and is refused
	// with 412 PreconditionFailed on an existing one, leaving it unchanged.
	check(t, s3Client, "the server honours If-None-Match: * (201/200 on a new key, 412 on an existing one)", func(c *R) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		put := func(body string) (int, string) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/backupflow-ledger/probe/if-none-match", strings.NewReader(body))
			if err != nil {
				return 0, err.Error()
			}
			req.Header.Set("If-None-Match", "*")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if st, b := put("first"); st/100 != 2 {
			c.Errorf("conditional PUT of a new key: %d %s", st, b)
		}
		if st, b := put("second"); st != http.StatusPreconditionFailed || !strings.Contains(b, "PreconditionFailed") {
			c.Errorf("conditional PUT of an existing key: %d %s; want 412 PreconditionFailed", st, b)
		}
		resp, err := http.Get(srv.URL + "/backupflow-ledger/probe/if-none-match")
		if err != nil {
			c.Errorf("get: %v", err)
			return
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); string(b) != "first" {
			c.Errorf("the refused PUT changed the object: %q", b)
		}
	})
	check(t, s3Client, "16 concurrent claims of one key: exactly one wins (If-None-Match: *)", func(c *R) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, errs := 0, 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := l.Claim(ctx, "job/race/outcome", fmt.Appendf(nil, "claimer-%d", i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
					c.Errorf("claim: %v", err)
				}
				if ok {
					won++
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			c.Errorf("%d claims won (want exactly 1, %d errors)", won, errs)
		}
		ok, err := l.Claim(ctx, "job/race/outcome", []byte("late"))
		if ok || err != nil {
			c.Errorf("a later claim: won=%v err=%v; want lost, no error", ok, err)
		}
		v, found, err := l.Get(ctx, "job/race/outcome")
		if err != nil || !found || string(v) == "late" {
			c.Errorf("the winner's value: %q found=%v err=%v", v, found, err)
		}
	})
	check(t, s3Client, "put, get, list and delete round-trip", func(c *R) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.Put(ctx, "chat/confirm/slack/U1/abc", []byte("v1")); err != nil {
			c.Errorf("put: %v", err)
			return
		}
		keys, err := l.List(ctx, "chat/confirm/")
		if err != nil || len(keys) != 1 {
			c.Errorf("list: %v %v", keys, err)
		}
		if err := l.Delete(ctx, "chat/confirm/slack/U1/abc"); err != nil {
			c.Errorf("delete: %v", err)
		}
		if _, found, err := l.Get(ctx, "chat/confirm/slack/U1/abc"); found || err != nil {
			c.Errorf("after delete: found=%v err=%v", found, err)
		}
	})
}

// TestS3LedgerVersionedBucket: the S3 ledger shares a bucket that may be
// versioned (issue 13 item 10). S3 keeps If-None-Match: * on a versioned
// bucket, so the S3 driver, unlike the COS one, does not refuse one; this
// proves its claims still hold there, on gofakes3 with versioning turned on
// through the S3 API (PutBucketVersioning) as an operator would.
func TestS3LedgerVersionedBucket(t *testing.T) {
	srv := startS3(t, "backupflow-versioned")
	check(t, s3Client, "on a versioned bucket: 16 concurrent claims of one key, exactly one wins; a later one loses", func(c *R) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/backupflow-versioned?versioning",
			strings.NewReader(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			c.Errorf("PutBucketVersioning: %v %v", err, resp)
			return
		}
		resp.Body.Close()
		resp, err = http.Get(srv.URL + "/backupflow-versioned?versioning")
		if err != nil {
			c.Errorf("GetBucketVersioning: %v", err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "<Status>Enabled</Status>") {
			c.Errorf("the bucket is not versioned: %s", b)
			return
		}
		l, err := s3Ledger(t, srv.URL, "s3://backupflow-versioned/interop")
		if err != nil {
			c.Errorf("open: %v", err)
			return
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := l.Claim(ctx, "job/race/outcome", fmt.Appendf(nil, "claimer-%d", i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					c.Errorf("claim: %v", err)
				}
				if ok {
					won++
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			c.Errorf("%d claims won on a versioned bucket; want exactly 1", won)
		}
		if ok, err := l.Claim(ctx, "job/race/outcome", []byte("late")); ok || err != nil {
			c.Errorf("a later claim: won=%v err=%v; want lost, no error", ok, err)
		}
	})
}
