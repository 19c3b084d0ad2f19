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
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/objstore/objstoretest"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
)

// TestEverySchemeOpensAsDeployed: every scheme a build of pkg/app registers
// (openurl.Schemes, the one list) opens as a deployed function opens it —
// its URL in the function's variables (BACKUPFLOW_WORK_QUEUE,
// BACKUPFLOW_LEDGER, BACKUPFLOW_OBJECT_STORE) beside the credentials and
// endpoints the platform hands it, read from the process environment by
// app.FromEnv, the constructor app.Main and chatapp.Handler run — and then
// does its job through the App: the emulator over real HTTP for the Tencent
// drivers and SQS, an S3 server for s3://. A scheme registered without a
// case here fails the test.
func TestEverySchemeOpensAsDeployed(t *testing.T) {
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
	const (
		bucket   = "backups-1250000000" // in the emulator's fixture
		instance = "mssql-njj2mtpl"     // a SQL Server instance of the fixture
		key      = "imports/" + instance + "/orders.bak"
	)
	if err := emu.COS.Put(bucket, key, []byte("TAPE0000rest")); err != nil {
		t.Fatal(err)
	}
	// On SCF the role's credentials arrive under SCF's own names.
	tencentEnv := emu.Env(srv.URL)
	tencentEnv["TENCENTCLOUD_SECRETID"], tencentEnv["TENCENTCLOUD_SECRETKEY"] = tencentEnv["TENCENTCLOUD_SECRET_ID"], tencentEnv["TENCENTCLOUD_SECRET_KEY"]
	delete(tencentEnv, "TENCENTCLOUD_SECRET_ID")
	delete(tencentEnv, "TENCENTCLOUD_SECRET_KEY")
	awsEnv := emu.Env(srv.URL)
	awsEnv["AWS_REGION"] = "us-east-1"

	s3fake := objstoretest.NewS3()
	s3srv := httptest.NewServer(s3fake)
	t.Cleanup(s3srv.Close)
	s3fake.PutObject("uploads", key, []byte("MSSQLBAK-rest"))
	s3Env := maps.Clone(awsEnv)
	s3Env["BACKUPFLOW_AWS_ENDPOINT"] = s3srv.URL
	s3fake.CheckSignatures(s3Env["AWS_ACCESS_KEY_ID"], s3Env["AWS_SECRET_ACCESS_KEY"])

	with := func(base map[string]string, k, v string) map[string]string {
		env := maps.Clone(base)
		env[k] = v
		return env
	}
	type check func(t *testing.T, a *app.App)
	queueCheck := func(t *testing.T, a *app.App) {
		q := a.Work
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
	ledgerCheck := func(t *testing.T, a *app.App) {
		for i, want := range []bool{true, false} {
			if won, err := a.Ledger.Claim(ctx, "claims/probe", []byte("x")); err != nil || won != want {
				t.Fatalf("Claim %d = %v, %v; want %v", i+1, won, err, want)
			}
		}
	}
	// An upload with no ETag in its event is looked up in the store, its
	// first bytes are read there, and its import starts on the cloud.
	storeCheck := func(platform, bucket string) check {
		return func(t *testing.T, a *app.App) {
			before := len(emu.Jobs())
			if _, err := a.Service.Upload(ctx, flow.Upload{Platform: platform, Bucket: bucket, Key: key}); err != nil {
				t.Fatalf("Upload = %v", err)
			}
			jobs := emu.Jobs()
			if len(jobs) != before+1 || jobs[len(jobs)-1].InstanceID != instance || jobs[len(jobs)-1].Op != provider.Import {
				t.Fatalf("the cloud holds %d jobs after the upload (%d before); want one import on %s", len(jobs), before, instance)
			}
		}
	}
	cases := map[string]struct {
		env   map[string]string
		check check
	}{
		"queue/mem":        {with(tencentEnv, "BACKUPFLOW_WORK_QUEUE", "mem://probe-queue"), queueCheck},
		"queue/cmq":        {with(tencentEnv, "BACKUPFLOW_WORK_QUEUE", "cmq://backupflow-work"), queueCheck},
		"queue/sqs":        {with(awsEnv, "BACKUPFLOW_WORK_QUEUE", "sqs://sqs.us-east-1.amazonaws.com/000000000000/backupflow-work"), queueCheck},
		"ledger/mem":       {with(tencentEnv, "BACKUPFLOW_LEDGER", "mem://probe-ledger"), ledgerCheck},
		"ledger/cos":       {with(tencentEnv, "BACKUPFLOW_LEDGER", "cos://"+bucket+"/probe-ledger"), ledgerCheck},
		"ledger/s3":        {with(s3Env, "BACKUPFLOW_LEDGER", "s3://uploads/probe-ledger"), ledgerCheck},
		"object store/cos": {with(tencentEnv, "BACKUPFLOW_OBJECT_STORE", "cos"), storeCheck("cos", bucket)},
		"object store/s3":  {with(s3Env, "BACKUPFLOW_OBJECT_STORE", "s3"), storeCheck("s3", "uploads")},
	}
	// Every variable any case sets is set in every case (empty means
	// unset), so no case sees another's or the shell's.
	vars := map[string]bool{"BACKUPFLOW_LOG_LEVEL": true}
	for _, c := range cases {
		for k := range c.env {
			vars[k] = true
		}
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
			env := with(c.env, "BACKUPFLOW_LOG_LEVEL", "error")
			for k := range vars {
				t.Setenv(k, env[k])
			}
			a, err := app.FromEnv(ctx, app.CreateBackup)
			if err != nil {
				t.Fatalf("FromEnv = %v", err)
			}
			c.check(t, a)
		})
	}
	for name := range cases {
		if !registered[name] {
			// A platform build (-tags scf, lambda.norpc) leaves the other's out.
			t.Logf("%s is not built into this build", name)
		}
	}
}
