package tcmongodb_test

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
	"github.com/backupflow/backupflow/pkg/provider/tcmongodb"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// The injected clock (clocktest) starts at the real time: the emulator checks the SDK's real-time
// X-TC-Timestamp against it within ±5 minutes, so tests advance by seconds.

const jobDuration = 10 * time.Second

type env struct {
	emu   *tencentemu.Server
	clock *clocktest.Clock
	p     *tcmongodb.Provider
	calls atomic.Int64
	inj   *fault.Injector
}

func newEnv(t *testing.T, rateLimits bool) *env {
	t.Helper()
	fleet := fixture.Default()
	fleet.Instances = append(fleet.Instances, fixture.Instance{Product: provider.MongoDB, ID: "cmgo-busy0001", Busy: true})
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
	e.p = tcmongodb.New(c, tcmongodb.Options{Region: "ap-guangzhou", Now: e.clock.Now})
	return e
}

func spec(id, name string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.MongoDB, InstanceID: id, Name: name}
}

func TestConformance(t *testing.T) {
	e := newEnv(t, false)
	fail, busy := spec("cmgo-f4il0001", "pt"), spec("cmgo-busy0001", "pt")
	providertest.Run(t, providertest.Harness{
		Provider:          e.p,
		Backup:            spec("cmgo-ayxpky6l", "pt"),
		Advance:           e.clock.Advance,
		JobDuration:       jobDuration + time.Second,
		UnknownInstanceID: "cmgo-nope0000",
		Failing:           &fail,
		Busy:              &busy,
		Kinds: []provider.Spec{spec("cmgo-hcd00001", "pt"), func() provider.Spec {
			s := spec("cmgo-tde00001", "pt")
			s.Method = "snapshot"
			return s
		}(), func() provider.Spec {
			s := spec("cmgo-ayxpky6l", "pt")
			s.Method = "physical"
			return s
		}()},
		Calls: func() int { return int(e.calls.Load()) },
	})
}

// A redelivered create must find the backup the first delivery started,
// whatever its method: the list shows only logical backups unless asked.
func TestRedeliveryAdopts(t *testing.T) {
	for _, tc := range []struct{ instance, method string }{
		{"cmgo-ayxpky6l", "logical"},
		{"cmgo-ayxpky6l", "physical"},
		{"cmgo-hcd00001", "physical"},
		{"cmgo-hcd00001", "snapshot"},
		{"cmgo-tde00001", "snapshot"},
		{"cmgo-hcd00001", ""}, // the instance's default
	} {
		t.Run(tc.instance+"/"+tc.method, func(t *testing.T) {
			e := newEnv(t, false)
			ctx := context.Background()
			s := spec(tc.instance, "job-m1")
			s.Method = tc.method
			if _, err := e.p.Start(ctx, s); err != nil {
				t.Fatal(err)
			}
			ref, found, err := e.p.Find(ctx, s)
			if err != nil || !found {
				t.Fatalf("Find on redelivery = %q, %v, %v; want found", ref, found, err)
			}
			n := 0
			for _, j := range e.emu.Jobs() {
				if j.InstanceID == s.InstanceID && j.Name == s.Name {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d backups with remark %s; want 1", n, s.Name)
			}
			e.clock.Advance(jobDuration + time.Second)
			if st, err := e.p.Status(ctx, s, ref); err != nil || st.State != provider.Succeeded || st.BackupID == "" {
				t.Errorf("Status(%s) = %+v, %v; want succeeded with the backup id", ref, st, err)
			}
		})
	}
}

// Methods the instance cannot take are refused with the cloud's code, and
// the error says what to use instead.
func TestMethodRules(t *testing.T) {
	for _, tc := range []struct{ instance, method, code, hint string }{
		{"cmgo-hcd00001", "logical", "InvalidParameter", "cloud-disk"},
		{"cmgo-ayxpky6l", "snapshot", "InvalidParameter", "local-disk"},
		{"cmgo-tde00001", "physical", "FailedOperation.TransparentDataEncryptionAlreadyOpen", "use logical or snapshot"},
	} {
		t.Run(tc.instance+"/"+tc.method, func(t *testing.T) {
			e := newEnv(t, false)
			s := spec(tc.instance, "job-m2")
			s.Method = tc.method
			_, err := e.p.Start(context.Background(), s)
			if apierr.Code(err) != tc.code || apierr.KindOf(err) != apierr.Permanent || !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("err = %v; want permanent %s mentioning %q", err, tc.code, tc.hint)
			}
		})
	}
}

func TestUnknownInstanceIsPermanentWithCloudDetails(t *testing.T) {
	e := newEnv(t, false)
	_, err := e.p.Start(context.Background(), spec("cmgo-nope0000", "n1"))
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidParameterValue.NotFoundInstance" || ae.RequestID == "" || ae.Kind != apierr.Permanent {
		t.Errorf("err = %v; want InvalidParameterValue.NotFoundInstance with a request id, permanent", err)
	}
}

func TestThrottlingRetryLater(t *testing.T) {
	ctx := context.Background()
	t.Run("injected", func(t *testing.T) {
		e := newEnv(t, false)
		e.inj.Force(fault.Throttle)
		if _, err := e.p.Start(ctx, spec("cmgo-ayxpky6l", "n1")); apierr.KindOf(err) != apierr.RetryLater {
			t.Errorf("err = %v; want retry-later", err)
		}
	})
	t.Run("rate limit 20/s", func(t *testing.T) {
		e := newEnv(t, true) // the clock stands still: one second
		var err error
		for range 21 {
			if _, _, err = e.p.Find(ctx, spec("cmgo-ayxpky6l", "n1")); err != nil {
				break
			}
		}
		if apierr.KindOf(err) != apierr.RetryLater || apierr.Code(err) != "LimitExceeded.TooManyRequests" {
			t.Errorf("21st call in one second: err = %v; want LimitExceeded.TooManyRequests, retry-later", err)
		}
	})
}

// TestOnlyDiscoveryRetriesItsReads: a fault on the encryption-status read
// is retried inside Discover (one fault among a fleet's reads ended the
// nightly fan-out) but not inside a create's lookup, whose step the flow
// retries with its own backoff and budget — retried inline there, the
// simulator's faulted creates waited out real-time backoffs.
func TestOnlyDiscoveryRetriesItsReads(t *testing.T) {
	ctx := context.Background()
	t.Run("create", func(t *testing.T) {
		e := newEnv(t, false)
		e.inj.Force(fault.None, fault.Throttle) // the list answers; the TDE read is throttled
		if _, err := e.p.Start(ctx, spec("cmgo-ayxpky6l", "n1")); apierr.KindOf(err) != apierr.RetryLater {
			t.Errorf("err = %v; want retry-later", err)
		}
		if n := e.calls.Load(); n != 2 {
			t.Errorf("%d calls; want the list and one TDE read", n)
		}
	})
	t.Run("discover", func(t *testing.T) {
		e := newEnv(t, false)
		e.inj.Force(fault.None, fault.InternalError)
		got, err := e.p.Discover(ctx, fixture.NightlyTagKey, fixture.NightlyTagValue)
		if err != nil || len(got) != 3 {
			t.Fatalf("Discover = %d instances, %v; want the 3 tagged", len(got), err)
		}
		if n := e.calls.Load(); n != 5 {
			t.Errorf("%d calls; want the list, 3 TDE reads and one retry", n)
		}
	})
}

func TestDiscoverDefaultFleet(t *testing.T) {
	e := newEnv(t, false)
	got, err := e.p.Discover(context.Background(), fixture.NightlyTagKey, fixture.NightlyTagValue)
	if err != nil {
		t.Fatal(err)
	}
	in := func(id, name, kind string, methods ...string) provider.Instance {
		return provider.Instance{Product: provider.MongoDB, Region: "ap-guangzhou", InstanceID: id, Name: name,
			Eligible: true, Methods: methods, Kind: kind}
	}
	want := []provider.Instance{
		in("cmgo-ayxpky6l", "events-mongo", "local disk", "logical", "physical"),
		in("cmgo-hcd00001", "archive-mongo", "cloud disk", "physical", "snapshot"),
		in("cmgo-tde00001", "vault-mongo", "cloud disk with transparent data encryption", "snapshot"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover = %+v;\nwant %+v (cmgo-f4il0001 has no nightly tag)", got, want)
	}
}

// RetentionDays reaches CreateBackupDBInstance as BackupRetentionDays; the
// emulator refuses values outside the documented range.
func TestRetentionDays(t *testing.T) {
	e := newEnv(t, false)
	s := spec("cmgo-ayxpky6l", "job-ret1")
	s.RetentionDays = 30
	if _, err := e.p.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range e.emu.Jobs() {
		if j.Name == s.Name {
			n++
			if len(j.Settings) != 1 || j.Settings[0] != "BackupRetentionDays=30" || j.Method != "logical" {
				t.Errorf("job = %+v; want BackupRetentionDays=30, logical", j)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d jobs named %s", n, s.Name)
	}
}

// TestDefaultMethods: one DescribeDBInstances call reads the kind of a
// batch of instances, and only cloud-disk ones (whose default, physical,
// transparent data encryption rules out) cost a TDE read each: local disk
// defaults to logical either way. An unknown id is left out; a batch over
// provider.MethodBatch is refused before any call. Before, every create of
// the fan-out made both reads itself: 4,000 calls a night at 2,000
// instances.
func TestDefaultMethods(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	got, err := e.p.DefaultMethods(ctx, "", []string{"cmgo-ayxpky6l", "cmgo-hcd00001", "cmgo-tde00001", "cmgo-zzzzzzzz"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cmgo-ayxpky6l": "logical", "cmgo-hcd00001": "physical", "cmgo-tde00001": "snapshot"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultMethods = %v; want %v", got, want)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("%d calls; want one DescribeDBInstances and a TDE read for each of the two cloud-disk instances", n)
	}
	many := make([]string, provider.MethodBatch+1)
	for i := range many {
		many[i] = "cmgo-ayxpky6l"
	}
	if _, err := e.p.DefaultMethods(ctx, "", many); apierr.KindOf(err) != apierr.Permanent {
		t.Errorf("DefaultMethods of %d ids: err = %v; want a permanent refusal", len(many), err)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("the oversized batch made a call (%d calls)", n)
	}
}

// TestLocalDiskStartSkipsTheTDERead: a create with no method on a
// local-disk instance reads its kind and starts a logical backup, with no
// TDE read: logical is the default with or without encryption.
func TestLocalDiskStartSkipsTheTDERead(t *testing.T) {
	e := newEnv(t, false)
	if _, err := e.p.Start(context.Background(), spec("cmgo-ayxpky6l", "job-local")); err != nil {
		t.Fatal(err)
	}
	if n := e.calls.Load(); n != 2 {
		t.Errorf("%d calls; want DescribeDBInstances and the create", n)
	}
}
