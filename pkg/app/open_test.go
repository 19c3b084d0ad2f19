package app_test

import (
	"context"
	"maps"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/objstoretest"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
)

// TestEverySchemeOpensAsDeployed: every scheme a build of pkg/app registers
// (openurl.Schemes, the one list) opens from nothing but a deployed
// function's environment — the emulator's Env over real HTTP for the
// Tencent drivers and SQS, an S3 server for s3:// — and then does its job.
// A scheme registered without a case here fails the test.
func TestEverySchemeOpensAsDeployed(t *testing.T) {
	_ = app.Functions // pkg/app's imports register the drivers
	ctx := context.Background()
	emu, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	const bucket = "backups-1250000000" // in the emulator's fixture
	if err := emu.COS.Put(bucket, "imports/orders.bak", []byte("TAPE0000rest")); err != nil {
		t.Fatal(err)
	}
	// On SCF the role's credentials arrive under SCF's own names.
	tencentEnv := emu.Env(srv.URL)
	tencentEnv["TENCENTCLOUD_SECRETID"], tencentEnv["TENCENTCLOUD_SECRETKEY"] = tencentEnv["TENCENTCLOUD_SECRET_ID"], tencentEnv["TENCENTCLOUD_SECRET_KEY"]
	delete(tencentEnv, "TENCENTCLOUD_SECRET_ID")
	delete(tencentEnv, "TENCENTCLOUD_SECRET_KEY")
	awsEnv := emu.Env(srv.URL)
	awsEnv["AWS_REGION"], awsEnv["AWS_SESSION_TOKEN"] = "us-east-1", ""

	s3fake := objstoretest.NewS3()
	s3srv := httptest.NewServer(s3fake)
	t.Cleanup(s3srv.Close)
	s3fake.PutObject("uploads", "imports/orders.bak", []byte("MSSQLBAK-rest"))
	s3Env := maps.Clone(awsEnv)
	s3Env["BACKUPFLOW_AWS_ENDPOINT"] = s3srv.URL

	type check func(t *testing.T, env openurl.Env, url string)
	queueCheck := func(t *testing.T, env openurl.Env, url string) {
		q, err := queue.Open(ctx, url, env)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		defer q.Close()
		if _, err := q.Send(ctx, []byte(`{"probe":1}`), 0); err != nil {
			t.Fatalf("Send = %v", err)
		}
		ms, err := q.Receive(ctx, q.MaxBatch(), time.Second)
		if err != nil || len(ms) != 1 {
			t.Fatalf("Receive = %d messages, %v; want the one sent", len(ms), err)
		}
		if err := q.Delete(ctx, ms[0].Receipt); err != nil {
			t.Fatalf("Delete = %v", err)
		}
	}
	ledgerCheck := func(t *testing.T, env openurl.Env, url string) {
		l, err := ledger.Open(ctx, url, env)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		for i, want := range []bool{true, false} {
			if won, err := l.Claim(ctx, "claims/probe", []byte("x")); err != nil || won != want {
				t.Fatalf("Claim %d = %v, %v; want %v", i+1, won, err, want)
			}
		}
	}
	storeCheck := func(bucket, magic string) check {
		return func(t *testing.T, env openurl.Env, url string) {
			s, err := objstore.Open(ctx, url, env)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			if b, err := s.ReadMagic(ctx, bucket, "imports/orders.bak"); err != nil || string(b) != magic {
				t.Fatalf("ReadMagic = %q, %v; want %q", b, err, magic)
			}
		}
	}
	cases := map[string]struct {
		url   string
		env   map[string]string
		check check
	}{
		"queue/mem":        {"mem://probe-queue", nil, queueCheck},
		"queue/cmq":        {"cmq://backupflow-work", tencentEnv, queueCheck},
		"queue/sqs":        {"sqs://sqs.us-east-1.amazonaws.com/000000000000/backupflow-work", awsEnv, queueCheck},
		"ledger/mem":       {"mem://probe-ledger", nil, ledgerCheck},
		"ledger/cos":       {"cos://" + bucket + "/probe-ledger", tencentEnv, ledgerCheck},
		"ledger/s3":        {"s3://uploads/probe-ledger", s3Env, ledgerCheck},
		"object store/cos": {"cos://", tencentEnv, storeCheck(bucket, "TAPE0000")},
		"object store/s3":  {"s3://", s3Env, storeCheck("uploads", "MSSQLBAK")},
	}
	registered := map[string]bool{}
	for kind, schemes := range openurl.Schemes() {
		for _, s := range schemes {
			registered[kind+"/"+s] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(registered)) {
		t.Run(name, func(t *testing.T) {
			c, ok := cases[name]
			if !ok {
				t.Fatalf("scheme %s is registered but has no case here: add how it opens as deployed", name)
			}
			env := c.env
			c.check(t, openurl.Env{Getenv: func(k string) string { return env[k] }}, c.url)
		})
	}
	for name := range cases {
		if !registered[name] {
			// A platform build (-tags scf, lambda.norpc) leaves the other's out.
			t.Logf("%s is not built into this build", name)
		}
	}
}
