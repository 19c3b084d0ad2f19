package tcmysql_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
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
	"github.com/backupflow/backupflow/pkg/provider/tcmysql"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// The injected clock (clocktest) starts at the real time because the emulator
// checks the SDK's X-TC-Timestamp (real time) against it within
// ±5 minutes, so tests advance it by seconds, never hours.

const jobDuration = 10 * time.Second

type env struct {
	emu   *tencentemu.Server
	clock *clocktest.Clock
	p     *tcmysql.Provider
	calls atomic.Int64
	inj   *fault.Injector
}

func newEnv(t *testing.T, rateLimits bool) *env {
	t.Helper()
	fleet := fixture.Default()
	fleet.Instances = append(fleet.Instances,
		fixture.Instance{Product: provider.MySQL, ID: "cdb-fail0001", FailJobs: "disk full on the backup volume"},
		fixture.Instance{Product: provider.MySQL, ID: "cdb-busy0001", Busy: true},
	)
	e := &env{clock: clocktest.New(time.Now()), inj: fault.New(0, 1)}
	e.emu = tencentemu.New(tencentemu.Options{SecretID: "AKIDtest", SecretKey: "sk-test", Fleet: fleet,
		Now: e.clock.Now, JobDuration: jobDuration, DisableRateLimits: !rateLimits, Faults: e.inj})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: "sk-test"},
		Region: "ap-guangzhou", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.p = tcmysql.New(c, tcmysql.Options{Region: "ap-guangzhou", Now: e.clock.Now})
	return e
}

func spec(id, name string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: id, Name: name}
}

func TestConformance(t *testing.T) {
	e := newEnv(t, false)
	fail, busy := spec("cdb-fail0001", "pt"), spec("cdb-busy0001", "pt")
	providertest.Run(t, providertest.Harness{
		Provider:          e.p,
		Backup:            spec("cdb-c1nl9rpv", "pt"),
		Advance:           e.clock.Advance,
		JobDuration:       jobDuration + time.Second,
		UnknownInstanceID: "cdb-nope0000",
		Failing:           &fail,
		Busy:              &busy,
		Kinds: []provider.Spec{spec("cdb-b4sic001", "pt"), func() provider.Spec {
			s := spec("cdb-k2m4p6r8", "pt")
			s.Method = "logical"
			return s
		}()},
		Calls: func() int { return int(e.calls.Load()) },
	})
}

func countJobs(emu *tencentemu.Server, instanceID, name string) int {
	n := 0
	for _, j := range emu.Jobs() {
		if j.InstanceID == instanceID && j.Name == name {
			n++
		}
	}
	return n
}

// A redelivered job looks before it creates and adopts what the first
// delivery started.
func TestRedeliveryAdopts(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	s := spec("cdb-c1nl9rpv", "job-7f3a")
	s.Tables = []provider.Table{{DB: "db1", Table: "tb1"}}
	first, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // two redeliveries
		ref, found, err := e.p.Find(ctx, s)
		if err != nil || !found || ref != first {
			t.Fatalf("Find on redelivery = %q, %v, %v; want %q", ref, found, err, first)
		}
	}
	if n := countJobs(e.emu, s.InstanceID, s.Name); n != 1 {
		t.Errorf("emulator holds %d backups named %s; want 1", n, s.Name)
	}
}

// Basic edition takes only snapshots: with no method the adapter reads the
// DeviceType and sends snapshot; the redelivery adopts it; an explicit
// physical is refused with cdb's own code and says why.
func TestBasicEdition(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	s := spec("cdb-b4sic001", "job-basic1")
	first, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if ref, found, err := e.p.Find(ctx, s); err != nil || !found || ref != first {
		t.Fatalf("Find on redelivery = %q, %v, %v; want %q", ref, found, err, first)
	}
	e.clock.Advance(jobDuration + time.Second)
	if st, err := e.p.Status(ctx, s, first); err != nil || st.State != provider.Succeeded {
		t.Errorf("Status = %+v, %v; want succeeded", st, err)
	}
	s = spec("cdb-b4sic001", "job-basic2")
	s.Method = "physical"
	_, err = e.p.Start(ctx, s)
	if apierr.Code(err) != "OperationDenied.ActionNotSupport" || apierr.KindOf(err) != apierr.Permanent ||
		!strings.Contains(err.Error(), "only snapshot") {
		t.Errorf("physical on Basic edition: err = %v; want permanent OperationDenied.ActionNotSupport saying only snapshot", err)
	}
}

func TestUnknownInstanceIsPermanentWithCloudDetails(t *testing.T) {
	e := newEnv(t, false)
	_, err := e.p.Start(context.Background(), spec("cdb-nope0000", "n1"))
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v; want *apierr.Error", err)
	}
	if ae.Code != "InvalidParameter.InstanceNotFound" || ae.RequestID == "" || ae.Kind != apierr.Permanent {
		t.Errorf("err = %+v; want InvalidParameter.InstanceNotFound, a request id, permanent", ae)
	}
}

func TestThrottlingAndBusyRetryLater(t *testing.T) {
	ctx := context.Background()
	t.Run("injected throttle", func(t *testing.T) {
		e := newEnv(t, false)
		e.inj.Force(fault.Throttle)
		_, err := e.p.Start(ctx, spec("cdb-c1nl9rpv", "n1"))
		if apierr.KindOf(err) != apierr.RetryLater || apierr.Code(err) != "RequestLimitExceeded" {
			t.Errorf("err = %v (kind %v); want RequestLimitExceeded, retry-later", err, apierr.KindOf(err))
		}
	})
	t.Run("rate limit 10/s on DescribeBackups", func(t *testing.T) {
		e := newEnv(t, true) // the clock stands still: every call falls in one second
		var err error
		for range 11 {
			if _, _, err = e.p.Find(ctx, spec("cdb-c1nl9rpv", "n1")); err != nil {
				break
			}
		}
		if apierr.KindOf(err) != apierr.RetryLater {
			t.Errorf("11th Find in one second: err = %v; want retry-later", err)
		}
	})
	t.Run("backup already running", func(t *testing.T) {
		e := newEnv(t, false)
		if _, err := e.p.Start(ctx, spec("cdb-c1nl9rpv", "n1")); err != nil {
			t.Fatal(err)
		}
		_, err := e.p.Start(ctx, spec("cdb-c1nl9rpv", "n2"))
		if apierr.KindOf(err) != apierr.RetryLater {
			t.Errorf("second concurrent backup: err = %v; want retry-later", err)
		}
	})
}

func TestDiscoverDefaultFleet(t *testing.T) {
	e := newEnv(t, false)
	got, err := e.p.Discover(context.Background(), fixture.NightlyTagKey, fixture.NightlyTagValue)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]provider.Instance{}
	for _, in := range got {
		byID[in.InstanceID] = in
	}
	for id, eligible := range map[string]bool{"cdb-c1nl9rpv": true, "cdb-k2m4p6r8": true, "cdb-iso00001": false} {
		in, ok := byID[id]
		if !ok || in.Eligible != eligible || (!eligible && in.Reason == "") || in.Region != "ap-guangzhou" {
			t.Errorf("%s: %+v (listed %v); want eligible=%v with a reason when not", id, in, ok, eligible)
		}
	}
	if in := byID["cdb-b4sic001"]; !in.Eligible || !reflect.DeepEqual(in.Methods, []string{"snapshot"}) || in.Kind != "Basic edition" {
		t.Errorf("Basic-edition instance: %+v; want eligible, snapshot only", in)
	}
	if in := byID["cdb-c1nl9rpv"]; in.Methods[0] != "physical" {
		t.Errorf("universal instance: %+v; want physical first", in)
	}
	if in, ok := byID["cdb-ro000001"]; !ok || in.Eligible || in.Reason != "read-only replica" {
		t.Errorf("read-only replica: %+v (listed %v); want listed as skipped, read-only replica", in, ok)
	}
	for _, id := range []string{"cdb-fail0001", "cdb-busy0001"} {
		if _, ok := byID[id]; ok {
			t.Errorf("%s has no nightly tag but was discovered", id)
		}
	}
}

// An ambiguous failure (InternalError after the backup was in fact created)
// says "look up first"; the lookup finds the backup, so no second one.
func TestAmbiguousCreateThenLookup(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	s := spec("cdb-c1nl9rpv", "job-amb1")
	s.Method = "physical"            // no instance lookup first: the fault hits the create
	e.inj.Force(fault.InternalError) // the emulator performs the first such create, then fails the answer
	_, err := e.p.Start(ctx, s)
	if apierr.KindOf(err) != apierr.RetryAfterLookup {
		t.Fatalf("err = %v (kind %v); want retry-after-lookup", err, apierr.KindOf(err))
	}
	ref, found, err := e.p.Find(ctx, s)
	if err != nil || !found {
		t.Fatalf("lookup after the ambiguous failure = %q, %v, %v; want the backup that was created", ref, found, err)
	}
	if n := countJobs(e.emu, s.InstanceID, s.Name); n != 1 {
		t.Errorf("%d backups named %s; want 1", n, s.Name)
	}
}

// TestDefaultMethods: one DescribeDBInstances call gives each listed
// instance the method Start would pick (a Basic edition: snapshot), an
// unknown id is left out, and a batch over provider.MethodBatch is refused
// before any call.
func TestDefaultMethods(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	got, err := e.p.DefaultMethods(ctx, "", []string{"cdb-c1nl9rpv", "cdb-b4sic001", "cdb-zzzzzzzz"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"cdb-c1nl9rpv": "physical", "cdb-b4sic001": "snapshot"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultMethods = %v; want %v", got, want)
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("%d calls; want one DescribeDBInstances", n)
	}
	for _, id := range []string{"cdb-c1nl9rpv", "cdb-b4sic001"} {
		s := spec(id, "job-m-"+id[4:])
		s.Method = got[id]
		if _, err := e.p.Start(ctx, s); err != nil {
			t.Errorf("Start %s with the method read: %v", id, err)
		}
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("%d calls after two starts with their method; want 3 (no lookup per start)", n)
	}
	many := make([]string, provider.MethodBatch+1)
	for i := range many {
		many[i] = "cdb-c1nl9rpv"
	}
	if _, err := e.p.DefaultMethods(ctx, "", many); apierr.KindOf(err) != apierr.Permanent {
		t.Errorf("DefaultMethods of %d ids: err = %v; want a permanent refusal", len(many), err)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("the oversized batch made a call (%d calls)", n)
	}
}

// TestStatusCarriesTheRunTime: a finished backup's status says how long it
// ran by the cloud's StartTime and FinishTime (whole seconds); a running
// one says nothing.
func TestStatusCarriesTheRunTime(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	s := spec("cdb-c1nl9rpv", "job-took1")
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := e.p.Status(ctx, s, ref); err != nil || st.State != provider.Running || st.Took != 0 {
		t.Errorf("running: %+v, %v; want running with no run time", st, err)
	}
	e.clock.Advance(jobDuration + 5*time.Second)
	st, err := e.p.Status(ctx, s, ref)
	if err != nil || st.State != provider.Succeeded {
		t.Fatalf("Status = %+v, %v; want succeeded", st, err)
	}
	if d := st.Took - jobDuration; d < -time.Second || d > time.Second {
		t.Errorf("run time %s; want %s to the second (the emulator's job duration)", st.Took, jobDuration)
	}
}

// TestRunningStatusCarriesProgressAndStart: a running backup's status
// says how far it is (Progress, percent) and when the cloud started it
// (StartTime): the pair the poll schedule places a check at the end with.
func TestRunningStatusCarriesProgressAndStart(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	s := spec("cdb-c1nl9rpv", "job-progress1")
	began := e.clock.Now()
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(jobDuration / 2)
	st, err := e.p.Status(ctx, s, ref)
	if err != nil || st.State != provider.Running {
		t.Fatalf("Status = %+v, %v; want running", st, err)
	}
	if st.Progress < 49 || st.Progress > 50 {
		t.Errorf("progress %d %% at half the emulator's job duration; want 49–50", st.Progress)
	}
	if d := began.Sub(st.Started); d < 0 || d > time.Second {
		t.Errorf("started %s; want %s to the second (StartTime is whole seconds)", st.Started, began)
	}
}
