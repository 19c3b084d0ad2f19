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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backupflow/backupflow/pkg/ledger"
	_ "github.com/backupflow/backupflow/pkg/ledger/s3ledger" // s3://
	"github.com/backupflow/backupflow/pkg/objstore"
	_ "github.com/backupflow/backupflow/pkg/objstore/s3store" // s3:// store
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

// TestS3StoreAgreesWithTheSDK: the deployed s3:// store and aws-sdk-go-v2's
// S3 client, on one server nobody here wrote, see the same objects: keys S3
// must escape, sizes, ETags and bodies, both ways, and a presigned URL the
// store makes fetches the object.
func TestS3StoreAgreesWithTheSDK(t *testing.T) {
	const bucket = "backupflow-shared"
	srv := startS3(t, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAINTEROP",
		"AWS_SECRET_ACCESS_KEY": "interop-secret", "BACKUPFLOW_AWS_ENDPOINT": srv.URL}
	store, err := objstore.Open(ctx, "s3://", openurl.Env{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	sdk := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAINTEROP", "interop-secret", "")})
	keys := []string{"ours/a b.bak", "ours/x*~!'()=&?.bak", "ours/ü+%25.bak"} // in byte order, as S3 lists
	check(t, "aws-sdk-go-v2 s3", "objects the store writes, the SDK lists and reads", func(r *R) {
		for _, k := range keys {
			if err := store.Put(ctx, bucket, k, []byte("body of "+k), true); err != nil {
				r.Errorf("store Put(%q): %v", k, err)
				return
			}
		}
		out, err := sdk.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("ours/")})
		if err != nil || len(out.Contents) != len(keys) {
			r.Errorf("SDK ListObjectsV2 = %v, %v; want %d objects", out, err, len(keys))
			return
		}
		for i, o := range out.Contents {
			if aws.ToString(o.Key) != keys[i] {
				r.Errorf("SDK lists %q; want %q", aws.ToString(o.Key), keys[i])
			}
			got, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				r.Errorf("SDK GetObject(%q): %v", aws.ToString(o.Key), err)
				continue
			}
			b, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if string(b) != "body of "+keys[i] {
				r.Errorf("SDK reads %q: %q", keys[i], b)
			}
		}
	})
	check(t, "aws-sdk-go-v2 s3", "objects the SDK writes, the store lists, heads and reads; a presigned URL fetches one", func(r *R) {
		k := "theirs/orders 2026 ü.bak"
		put, err := sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("MSSQLBAK-theirs")})
		if err != nil {
			r.Errorf("SDK PutObject: %v", err)
			return
		}
		list, err := store.List(ctx, bucket, "theirs/")
		if err != nil || len(list) != 1 || list[0].Key != k {
			r.Errorf("store List = %+v, %v; want [%q]", list, err, k)
			return
		}
		o, err := store.Head(ctx, bucket, k)
		if err != nil || o.Size != 15 || o.ETag != strings.Trim(aws.ToString(put.ETag), `"`) {
			r.Errorf("store Head = %+v, %v; want size 15, ETag %s", o, err, aws.ToString(put.ETag))
		}
		if b, err := store.Get(ctx, bucket, k); err != nil || string(b) != "MSSQLBAK-theirs" {
			r.Errorf("store Get = %q, %v", b, err)
		}
		if m, err := store.ReadMagic(ctx, bucket, k); err != nil || string(m) != "MSSQLBAK" {
			r.Errorf("store ReadMagic = %q, %v", m, err)
		}
		u, err := store.Presign(ctx, bucket, k, time.Hour)
		if err != nil {
			r.Errorf("store Presign: %v", err)
			return
		}
		resp, err := http.Get(u)
		if err != nil {
			r.Errorf("GET the presigned URL: %v", err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "MSSQLBAK-theirs" {
			r.Errorf("GET the presigned URL: %d %q", resp.StatusCode, b)
		}
	})
}
