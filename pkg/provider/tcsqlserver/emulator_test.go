package tcsqlserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/internal/emulator/tencentemu"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/provider/providertest"
	"github.com/backupflow/backupflow/pkg/provider/tcsqlserver"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// The injected clock (clocktest) starts at the real time: the emulator checks the SDK's real-time
// X-TC-Timestamp against it within ±5 minutes, so tests advance by seconds.

const (
	jobDuration = 10 * time.Second
	goodURL     = "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/orders.bak?q-sign-algorithm=sha1&q-signature=good"
	badURL      = "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/missing.bak?q-sign-algorithm=sha1&q-signature=c0ffee"
)

type env struct {
	emu   *tencentemu.Server
	clock *clocktest.Clock
	p     *tcsqlserver.Provider
	c     *tencent.Client
	calls atomic.Int64
	inj   *fault.Injector
	// hook, when set, sees each request (its body read into body) and may
	// answer it itself (returning true).
	hook func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

func newEnv(t *testing.T) *env { return newEnvLimits(t, false) }

func newEnvLimits(t *testing.T, rateLimits bool) *env {
	t.Helper()
	fleet := fixture.Default()
	var many []fixture.Database
	for i := range 12 {
		many = append(many, fixture.Database{Name: fmt.Sprintf("shard%02d", i)})
	}
	fleet.Instances = append(fleet.Instances,
		fixture.Instance{Product: provider.SQLServer, ID: "mssql-fail0001", FailJobs: "backup volume full"},
		fixture.Instance{Product: provider.SQLServer, ID: "mssql-busy0001", Busy: true},
		fixture.Instance{Product: provider.SQLServer, ID: "mssql-shards12", BackupFormat: "single", Databases: many},
		fixture.Instance{Product: provider.SQLServer, ID: "mssql-is0lated", Status: "isolated", Databases: []fixture.Database{{Name: "old"}}},
	)
	e := &env{clock: clocktest.New(time.Now()), inj: fault.New(0, 1)}
	e.emu = tencentemu.New(tencentemu.Options{SecretID: "AKIDtest", SecretKey: "sk-test", Fleet: fleet,
		Now: e.clock.Now, JobDuration: jobDuration, DisableRateLimits: !rateLimits, Faults: e.inj,
		SourceChecker: func(_ context.Context, raw string) error {
			if strings.Contains(raw, "missing.bak") {
				return errors.New("GET " + raw + ": 404 NoSuchKey")
			}
			return nil
		}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		if e.hook != nil {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if e.hook(w, r, body) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: "sk-test"},
		Region: "ap-guangzhou", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.p = tcsqlserver.New(c, tcsqlserver.Options{Region: "ap-guangzhou", Now: e.clock.Now})
	return e
}

func backup(id, name string, dbs ...string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.SQLServer, InstanceID: id, Name: name, Databases: dbs}
}

func imp(name, url string) provider.Spec {
	return provider.Spec{Op: provider.Import, Product: provider.SQLServer, InstanceID: "mssql-rdc0gajn", Name: name, SourceURL: url}
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	fail, busy, im := backup("mssql-fail0001", "pt"), backup("mssql-busy0001", "pt"), imp("pt", goodURL)
	providertest.Run(t, providertest.Harness{
		Provider:          e.p,
		Backup:            backup("mssql-njj2mtpl", "pt", "db1", "db2"),
		Import:            &im,
		Advance:           e.clock.Advance,
		JobDuration:       jobDuration + time.Second,
		UnknownInstanceID: "mssql-nope0000",
		Failing:           &fail,
		Busy:              &busy,
		Kinds:             []provider.Spec{backup("mssql-s1ngle01", "pt"), backup("mssql-s1ngle01", "pt", "reports")},
		Calls:             func() int { return int(e.calls.Load()) },
	})
}

func jobs(emu *tencentemu.Server, op provider.Op, name string) int {
	n := 0
	for _, j := range emu.Jobs() {
		if j.Op == op && j.Name == name {
			n++
		}
	}
	return n
}

func TestRedeliveryAdopts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t.Run("backup", func(t *testing.T) {
		s := backup("mssql-i1z41iwd", "job-b1")
		if _, err := e.p.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		ref, found, err := e.p.Find(ctx, s)
		if err != nil || !found || !strings.HasPrefix(string(ref), "backup/") {
			t.Fatalf("Find on redelivery = %q, %v, %v; want the backup", ref, found, err)
		}
		if n := jobs(e.emu, provider.Backup, s.Name); n != 1 {
			t.Errorf("%d backups named %s; want 1", n, s.Name)
		}
	})
	t.Run("import", func(t *testing.T) {
		s := imp("job-i1", goodURL)
		first, err := e.p.Start(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		s.SourceURL = ""
		ref, found, err := e.p.Find(ctx, s)
		if err != nil || !found || !strings.HasPrefix(string(first), string(ref)) {
			t.Fatalf("Find on redelivery = %q, %v, %v; want the migration of %s", ref, found, err, first)
		}
		if n := jobs(e.emu, provider.Import, s.Name); n != 1 {
			t.Errorf("%d imports named %s; want 1", n, s.Name)
		}
	})
}

// A Start whose StartBackupMigration was refused (busy) leaves a created
// migration behind; the retried Start refreshes and starts that one instead
// of creating a second.
func TestImportRetryReusesCreatedMigration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := imp("job-i2", goodURL)
	e.inj.Force(fault.None, fault.None, fault.Busy) // Describe, Create, then Start is refused
	_, err := e.p.Start(ctx, s)
	if apierr.KindOf(err) != apierr.RetryLater {
		t.Fatalf("first Start: err = %v; want retry-later", err)
	}
	if _, found, err := e.p.Find(ctx, s); err != nil || found {
		t.Fatalf("Find of a created, unstarted migration = %v, %v; want not found so Start runs again", found, err)
	}
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatalf("retried Start: %v", err)
	}
	if n := jobs(e.emu, provider.Import, s.Name); n != 1 {
		t.Errorf("%d imports named %s; want 1", n, s.Name)
	}
	if e.emu.Calls("sqlserver", "ModifyBackupMigration") != 1 {
		t.Errorf("the retry did not refresh the URL with ModifyBackupMigration")
	}
	e.clock.Advance(jobDuration + time.Second)
	if st, err := e.p.Status(ctx, s, ref); err != nil || st.State != provider.Succeeded {
		t.Errorf("Status(%s) = %+v, %v; want succeeded", ref, st, err)
	}
}

func TestImportOfUnreadableFileFailsWithoutLeakingTheURL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := imp("job-i3", badURL)
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(jobDuration + time.Second)
	st, err := e.p.Status(ctx, s, ref)
	if err != nil || st.State != provider.Failed || st.Detail == "" {
		t.Fatalf("Status = %+v, %v; want failed with the cloud's message", st, err)
	}
	if strings.Contains(st.Detail, "c0ffee") {
		t.Errorf("Detail leaks the presigned URL: %s", st.Detail)
	}
}

func TestUnknownInstanceIsPermanentWithCloudDetails(t *testing.T) {
	e := newEnv(t)
	for _, s := range []provider.Spec{backup("mssql-nope0000", "n1"), {Op: provider.Import, Product: provider.SQLServer,
		InstanceID: "mssql-nope0000", Name: "n1", SourceURL: goodURL}} {
		_, err := e.p.Start(context.Background(), s)
		var ae *apierr.Error
		if !errors.As(err, &ae) || ae.Code != "ResourceNotFound.InstanceNotFound" || ae.RequestID == "" || ae.Kind != apierr.Permanent {
			t.Errorf("%s: err = %v; want ResourceNotFound.InstanceNotFound with a request id, permanent", s.Op, err)
		}
		if strings.Contains(err.Error(), "q-signature") {
			t.Errorf("error leaks the URL: %v", err)
		}
	}
}

func TestThrottlingRetryLater(t *testing.T) {
	e := newEnv(t)
	e.inj.Force(fault.Throttle)
	_, err := e.p.Start(context.Background(), backup("mssql-i1z41iwd", "n1"))
	if apierr.KindOf(err) != apierr.RetryLater || apierr.Code(err) != "RequestLimitExceeded" {
		t.Errorf("err = %v; want RequestLimitExceeded, retry-later", err)
	}
}

func TestDiscoverDefaultFleet(t *testing.T) {
	e := newEnv(t)
	got, err := e.p.Discover(context.Background(), fixture.NightlyTagKey, fixture.NightlyTagValue)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]provider.Instance{}
	for _, in := range got {
		byID[in.InstanceID] = in
	}
	want := map[string]bool{"mssql-i1z41iwd": true, "mssql-njj2mtpl": true, "mssql-cr8ating": false, "mssql-s1ngle01": true}
	for id, eligible := range want {
		in, ok := byID[id]
		if !ok || in.Eligible != eligible || (!eligible && in.Reason == "") {
			t.Errorf("%s: %+v (listed %v); want eligible=%v", id, in, ok, eligible)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Discover = %+v; want exactly %v (mssql-rdc0gajn has no nightly tag)", got, want)
	}
}

// An instance writing single-database backup files lists one file per
// database and no Id. The redelivery must still find the backup (by name)
// and track it to the end, not fail it for a zero id.
func TestSingleDatabaseFiles(t *testing.T) {
	for _, dbs := range [][]string{nil, {"reports"}} {
		t.Run(fmt.Sprint(dbs), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			s := backup("mssql-s1ngle01", "job-single1", dbs...)
			if _, err := e.p.Start(ctx, s); err != nil {
				t.Fatal(err)
			}
			ref, found, err := e.p.Find(ctx, s)
			if err != nil || !found {
				t.Fatalf("Find on redelivery = %q, %v, %v; want found", ref, found, err)
			}
			if st, err := e.p.Status(ctx, s, ref); err != nil || st.State != provider.Running {
				t.Fatalf("Status(%s) at once = %+v, %v; want running", ref, st, err)
			}
			e.clock.Advance(jobDuration + time.Second)
			st, err := e.p.Status(ctx, s, ref)
			if err != nil || st.State != provider.Succeeded || st.BackupID == "" || st.BackupID == "0" {
				t.Errorf("Status(%s) = %+v, %v; want succeeded, naming the backup", ref, st, err)
			}
			if n := countJobs(e.emu, s.InstanceID, s.Name); n != 1 {
				t.Errorf("%d backups named %s; want 1", n, s.Name)
			}
		})
	}
}

func countJobs(emu *tencentemu.Server, instance, name string) int {
	n := 0
	for _, j := range emu.Jobs() {
		if j.InstanceID == instance && j.Name == name {
			n++
		}
	}
	return n
}

// KeepUntilGone reaches CreateBackup as StorageStrategy 1.
func TestKeepUntilGone(t *testing.T) {
	e := newEnv(t)
	s := backup("mssql-i1z41iwd", "job-keep1")
	s.KeepUntilGone = true
	if _, err := e.p.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for _, j := range e.emu.Jobs() {
		if j.Name == s.Name && (len(j.Settings) != 1 || j.Settings[0] != "StorageStrategy=1") {
			t.Errorf("settings = %v; want StorageStrategy=1", j.Settings)
		}
	}
}
