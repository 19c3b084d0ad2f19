package huaweirds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/internal/emulator/huaweiemu"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/provider/providertest"
	"github.com/backupflow/backupflow/pkg/secret"
)

const (
	testAK  = "HPUAEXAMPLEAK0000001"
	testSK  = "exampleSecretKey0000000000000000000000000"
	project = "0483b6b16e954cb88930a360d2c4e663"
	in01    = "d8e6ca5a624745bcb546a227aa3ae1cfin01" // MySQL
	in04    = "d8e6ca5a624745bcb546a227aa3ae1cfin04" // SQL Server, db1 db2
	replica = "0123456789abcdef0123456789abcdefin02"
	frozen  = "0123456789abcdef0123456789abcdefin03"
	failing = "0123456789abcdef0123456789abcdefin06"
	unknown = "ffffffffffffffffffffffffffffffffin01"
)

func testFleet() *fixture.Set {
	f := fixture.Default()
	f.Instances = append(f.Instances,
		fixture.Instance{Product: provider.HuaweiRDS, ID: replica, Name: "hw-mysql-ro", ReadOnly: true,
			Tags: map[string]string{fixture.NightlyTagKey: fixture.NightlyTagValue}},
		fixture.Instance{Product: provider.HuaweiRDS, ID: frozen, Name: "hw-frozen", Status: "isolated",
			Tags: map[string]string{fixture.NightlyTagKey: fixture.NightlyTagValue}},
		fixture.Instance{Product: provider.HuaweiRDS, ID: failing, Name: "hw-failing", FailJobs: "disk full"},
	)
	return f
}

// env is the provider talking over real HTTP to the emulator, both on one
// virtual clock far from the wall clock: a request dated by time.Now would
// fail the emulator's 15-minute check, so every pass proves the injected
// clock signs the request.
type env struct {
	clk   *clocktest.Clock
	emu   *huaweiemu.Server
	inj   *fault.Injector
	url   string
	calls atomic.Int64
	p     *Provider
}

const jobDuration = 3 * time.Second

func newEnv(t *testing.T, mod func(*huaweiemu.Options)) *env {
	t.Helper()
	e := &env{clk: clocktest.New(time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)), inj: fault.New(0, 7)}
	e.inj.SlowDelay = time.Millisecond
	o := huaweiemu.Options{AK: testAK, SK: testSK, Fleet: testFleet(), Now: e.clk.Now,
		JobDuration: jobDuration, Faults: e.inj, DisableRateLimits: true}
	if mod != nil {
		mod(&o)
	}
	e.emu = huaweiemu.New(o)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.p = e.provider(t, func(*Config) {})
	return e
}

func (e *env) provider(t *testing.T, mod func(*Config)) *Provider {
	t.Helper()
	cfg := Config{AK: testAK, SK: secret.String(testSK), ProjectID: project,
		Endpoint: strings.TrimPrefix(e.url, "http://"), Now: e.clk.Now}
	mod(&cfg)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func spec(instance, name string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.HuaweiRDS, InstanceID: instance, Name: name}
}

func apiErr(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T); want *apierr.Error", err, err)
	}
	if ae.Cloud != apierr.Huawei || ae.Service != "rds" || ae.Action == "" {
		t.Errorf("error %+v lacks cloud, service or action", ae)
	}
	return ae
}

func TestConformance(t *testing.T) {
	e := newEnv(t, nil)
	failSpec := spec(failing, "conf")
	busySpec := spec(in04, "conf")
	e.emu.SetBusy(in04, true)
	providertest.Run(t, providertest.Harness{
		Provider:          e.p,
		Backup:            spec(in01, "conf"),
		Advance:           e.clk.Advance,
		JobDuration:       jobDuration,
		UnknownInstanceID: unknown,
		Failing:           &failSpec,
		Busy:              &busySpec,
		Calls:             func() int { return int(e.calls.Load()) },
	})
}

// TestSeedExamples sends the seed's two documented bodies as they are,
// signed by the provider's client, and checks the documented answer in the
// provider's own answer struct (interop/ repeats this with the SDK's models).
func TestSeedExamples(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, body, instance string
		dbs                  []string
	}{
		{"mysql", `{ "instance_id": "d8e6ca5a624745bcb546a227aa3ae1cfin01", "name": "backup", "description": "manual backup" }`, in01, nil},
		{"sqlserver", `{ "instance_id": "d8e6ca5a624745bcb546a227aa3ae1cfin04", "name": "backup", "description": "manual backup", "databases": [{ "name": "db1" }, { "name": "db2" }] }`, in04, []string{"db1", "db2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out createAnswer
			if err := e.p.do(context.Background(), actionCreate, http.MethodPost, "/backups", nil, json.RawMessage(tc.body), &out); err != nil {
				t.Fatal(err)
			}
			b := out.Backup
			if b == nil {
				t.Fatal("answer without a backup")
			}
			var dbs []string
			for _, d := range b.Databases {
				dbs = append(dbs, d.Name)
			}
			if b.ID == "" || b.InstanceID != tc.instance || b.Name != "backup" ||
				b.Description != "manual backup" || b.Status != "BUILDING" || b.Type != "manual" ||
				!slices.Equal(dbs, tc.dbs) {
				t.Fatalf("backup %+v", b)
			}
			if _, err := time.Parse("2006-01-02T15:04:05Z", b.BeginTime); err != nil {
				t.Errorf("begin_time %q: %v", b.BeginTime, err)
			}
		})
	}
}

func TestLifecycleWithDatabases(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	s := spec(in04, "nightly-20210304")
	s.Databases = []string{"db2"}
	s.Description = "nightly run"
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ref), "backup/") {
		t.Fatalf("ref %q", ref)
	}
	st, err := e.p.Status(ctx, s, ref)
	if err != nil || st.State != provider.Running || st.Detail != "BUILDING" || st.Progress != -1 {
		t.Fatalf("status %+v, %v", st, err)
	}
	e.clk.Advance(jobDuration)
	st, err = e.p.Status(ctx, s, ref)
	if err != nil || st.State != provider.Succeeded || st.BackupID != strings.TrimPrefix(string(ref), "backup/") {
		t.Fatalf("status %+v, %v", st, err)
	}
	jobs := e.emu.Jobs()
	if len(jobs) != 1 || jobs[0].Name != s.Name || jobs[0].ID != st.BackupID {
		t.Fatalf("jobs %+v", jobs)
	}
	// A backup id the cloud does not list (yet) is still running.
	if st, err := e.p.Status(ctx, s, "backup/0000-1111"); err != nil || st.State != provider.Running {
		t.Fatalf("unlisted: %+v, %v", st, err)
	}
}

func TestDuplicateNameThenFind(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	s := spec(in01, "job-abc123")
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Start(ctx, s)
	ae := apiErr(t, err)
	if ae.Code != "DBS.201209" || ae.HTTPStatus != 409 || ae.Kind != apierr.Permanent || ae.RequestID == "" {
		t.Fatalf("duplicate: %+v", ae)
	}
	found, ok, err := e.p.Find(ctx, s)
	if err != nil || !ok || found != ref {
		t.Fatalf("Find = %q %v %v; want %q", found, ok, err, ref)
	}
	if n := len(e.emu.Jobs()); n != 1 {
		t.Fatalf("%d backups; want 1", n)
	}
}

func TestFindPages(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var first provider.Ref
	for i := 0; i < 150; i++ {
		ref, err := e.p.Start(ctx, spec(in01, fmt.Sprintf("bulk-%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = ref
		}
	}
	// Newest first: bulk-000 is on the second page.
	before := e.calls.Load()
	ref, ok, err := e.p.Find(ctx, spec(in01, "bulk-000"))
	if err != nil || !ok || ref != first {
		t.Fatalf("Find = %q %v %v; want %q", ref, ok, err, first)
	}
	if n := e.calls.Load() - before; n != 2 {
		t.Errorf("Find took %d calls; want 2 pages", n)
	}
	if _, ok, err := e.p.Find(ctx, spec(in01, "bulk-999")); ok || err != nil {
		t.Fatalf("unused name: %v %v", ok, err)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	badSK := e.provider(t, func(c *Config) { c.SK = "not-the-key" })
	skewed := e.provider(t, func(c *Config) { c.Now = func() time.Time { return e.clk.Now().Add(20 * time.Minute) } })
	otherProject := e.provider(t, func(c *Config) { c.ProjectID = "ffffffffffffffffffffffffffffffff" })
	for _, tc := range []struct {
		name   string
		setup  func()
		p      *Provider
		spec   provider.Spec
		status int
		code   string
		kind   apierr.Kind
	}{
		{"tampered signature", nil, badSK, spec(in01, "e-sig"), 401, "APIGW.0301", apierr.Permanent},
		{"clock skew", nil, skewed, spec(in01, "e-skew"), 401, "APIGW.0303", apierr.Permanent},
		{"other project", nil, otherProject, spec(in01, "e-proj"), 403, "DBS.200010", apierr.Permanent},
		{"unknown instance", nil, e.p, spec(unknown, "e-unk"), 404, "DBS.200002", apierr.Permanent},
		{"databases on mysql", nil, e.p, func() provider.Spec { s := spec(in01, "e-db"); s.Databases = []string{"db1"}; return s }(), 400, "DBS.200001", apierr.Permanent},
		{"read replica", nil, e.p, spec(replica, "e-ro"), 400, "DBS.200086", apierr.RetryAfterLookup},
		{"frozen", nil, e.p, spec(frozen, "e-frozen"), 400, "DBS.200086", apierr.RetryAfterLookup},
		{"busy", func() { e.emu.SetBusy(in01, true) }, e.p, spec(in01, "e-busy"), 409, "DBS.200011", apierr.RetryLater},
		{"busy fault", func() { e.emu.SetBusy(in01, false); e.inj.Force(fault.Busy) }, e.p, spec(in01, "e-busy2"), 409, "DBS.200011", apierr.RetryLater},
		{"throttled", func() { e.inj.Force(fault.Throttle) }, e.p, spec(in01, "e-throttle"), 429, "APIGW.0308", apierr.RetryLater},
		{"internal error", func() { e.inj.Force(fault.InternalError) }, e.p, spec(in01, "e-internal"), 500, "DBS.108000", apierr.RetryAfterLookup},
		{"gateway 503", func() { e.inj.Force(fault.ServerError) }, e.p, spec(in01, "e-503"), 503, "", apierr.RetryLater}, // refused before the API (issue 13 item 7)
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			_, err := tc.p.Start(ctx, tc.spec)
			ae := apiErr(t, err)
			if ae.HTTPStatus != tc.status || ae.Code != tc.code || ae.Kind != tc.kind || apierr.KindOf(err) != tc.kind {
				t.Fatalf("got %d %q %v; want %d %q %v (%v)", ae.HTTPStatus, ae.Code, ae.Kind, tc.status, tc.code, tc.kind, err)
			}
			if tc.code != "" && ae.RequestID == "" {
				t.Error("no request id")
			}
			if strings.Contains(err.Error(), testSK) {
				t.Error("error text holds the secret key")
			}
		})
	}
	// The first ambiguous fault on a create performed it: a lookup adopts it.
	if _, ok, err := e.p.Find(ctx, spec(in01, "e-internal")); !ok || err != nil {
		t.Fatalf("after internal error: found %v, %v; want the backup", ok, err)
	}
}

func TestDropIsAmbiguous(t *testing.T) {
	e := newEnv(t, nil)
	e.inj.Force(fault.Drop)
	_, err := e.p.Start(context.Background(), spec(in01, "dropped"))
	if err == nil {
		t.Fatal("no error")
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		t.Fatalf("transport failure became %+v", ae)
	}
	if k := apierr.KindOf(err); k != apierr.RetryAfterLookup {
		t.Fatalf("kind %v; want retry-after-lookup (%v)", k, err)
	}
}

func TestRateLimitedReads(t *testing.T) {
	e := newEnv(t, func(o *huaweiemu.Options) { o.DisableRateLimits = false })
	ctx := context.Background()
	s := spec(in01, "rl-test")
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < huaweiemu.RateLimit; i++ {
		if _, err := e.p.Status(ctx, s, ref); err != nil {
			t.Fatalf("status %d: %v", i, err)
		}
	}
	_, err = e.p.Status(ctx, s, ref)
	if ae := apiErr(t, err); ae.Code != "APIGW.0308" || ae.Kind != apierr.RetryLater {
		t.Fatalf("over the limit: %+v", ae)
	}
	e.clk.Advance(time.Second)
	if _, err := e.p.Status(ctx, s, ref); err != nil {
		t.Fatalf("next second: %v", err)
	}
}

func TestInvalidInputMakesNoCall(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	good := spec(in01, "valid-name")
	for _, tc := range []struct {
		name string
		mut  func(*provider.Spec)
	}{
		{"tencent product", func(s *provider.Spec) { s.Product = provider.MySQL }},
		{"import", func(s *provider.Spec) { s.Op = provider.Import; s.SourceURL = "https://x" }},
		{"short name", func(s *provider.Spec) { s.Name = "abc" }},
		{"description with quote", func(s *provider.Spec) { s.Description = `it's` }},
		{"bad id", func(s *provider.Spec) { s.InstanceID = "cdb-c1nl9rpv" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mut(&s)
			if _, err := e.p.Start(ctx, s); !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("Start: %v", err)
			}
			if _, _, err := e.p.Find(ctx, s); !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("Find: %v", err)
			}
		})
	}
	for _, ref := range []provider.Ref{"", "backup/", "flow/12", "backup/a b", "backup/../x"} {
		if _, err := e.p.Status(ctx, good, ref); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Status(%q): %v", ref, err)
		}
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("%d calls; want none", n)
	}
}

func TestCanceledContext(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.p.Start(ctx, spec(in01, "canceled")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("%d calls", n)
	}
}

func TestDiscover(t *testing.T) {
	f := testFleet()
	f.Instances = append(f.Instances,
		fixture.Instance{Product: provider.HuaweiRDS, ID: "0123456789abcdef0123456789abcdefin07", Name: "hw-building",
			Status: "creating", Tags: map[string]string{fixture.NightlyTagKey: fixture.NightlyTagValue}},
		fixture.Instance{Product: provider.HuaweiRDS, ID: "0123456789abcdef0123456789abcdefin08", Name: "hw-rebooting",
			Status: "REBOOTING", Region: "ap-southeast-1", Tags: map[string]string{fixture.NightlyTagKey: fixture.NightlyTagValue}},
	)
	e := newEnv(t, func(o *huaweiemu.Options) { o.Fleet = f })
	got, err := e.p.Discover(context.Background(), fixture.NightlyTagKey, fixture.NightlyTagValue)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id       string
		eligible bool
		region   string
	}
	var rows []row
	for _, in := range got {
		if in.Product != provider.HuaweiRDS || in.Name == "" || (!in.Eligible && in.Reason == "") || (in.Eligible && in.Reason != "") {
			t.Errorf("instance %+v", in)
		}
		rows = append(rows, row{in.InstanceID, in.Eligible, in.Region})
	}
	want := []row{{in01, true, "cn-north-4"}, {in04, true, "cn-north-4"}, {replica, false, "cn-north-4"}, {frozen, false, "cn-north-4"},
		{"0123456789abcdef0123456789abcdefin07", false, "cn-north-4"}, {"0123456789abcdef0123456789abcdefin08", false, "ap-southeast-1"}}
	if !slices.Equal(rows, want) {
		t.Fatalf("got %+v\nwant %+v", rows, want)
	}
	if got, err := e.p.Discover(context.Background(), "team", "nobody"); err != nil || len(got) != 0 {
		t.Fatalf("no match: %v %v", got, err)
	}
	for _, kv := range [][2]string{{"", "x"}, {"a=b", "x"}, {"k", "a,b"}, {strings.Repeat("k", 128), ""}} {
		if _, err := e.p.Discover(context.Background(), kv[0], kv[1]); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Discover(%q, %q): %v", kv[0], kv[1], err)
		}
	}
}

// taggedFleet is n instances tagged backupflow=nightly (230 fill three pages).
func taggedFleet(n int) *fixture.Set {
	f := &fixture.Set{HuaweiProjectID: project}
	for i := range n {
		f.Instances = append(f.Instances, fixture.Instance{Product: provider.HuaweiRDS, ID: fmt.Sprintf("%032xin01", i),
			Name: fmt.Sprintf("db-%d", i), Tags: map[string]string{"backupflow": "nightly"}})
	}
	return f
}

func TestDiscoverPages(t *testing.T) {
	e := newEnv(t, func(o *huaweiemu.Options) { o.Fleet = taggedFleet(230) })
	got, err := e.p.Discover(context.Background(), "backupflow", "nightly")
	if err != nil || len(got) != 230 || got[229].Name != "db-229" {
		t.Fatalf("got %d, %v", len(got), err)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("%d calls; want 3 pages", n)
	}
}

// TestDiscoverRidesOutTransientFaults: a page that fails transiently is
// read again after a backoff on the provider's clock; a permanent failure
// is not. One fault among a night's pages used to fail the whole fan-out.
func TestDiscoverRidesOutTransientFaults(t *testing.T) {
	e := newEnv(t, func(o *huaweiemu.Options) { o.Fleet = taggedFleet(230) })
	e.p = e.provider(t, func(c *Config) { c.Sleep = e.clk.Sleep })
	start := e.clk.Now()
	// (Not Drop: net/http itself sends a GET again on a dropped reused
	// connection, before Discover sees anything.)
	e.inj.Force(fault.ServerError, fault.None, fault.InternalError, fault.ServerError)
	got, err := e.p.Discover(context.Background(), "backupflow", "nightly")
	if err != nil || len(got) != 230 {
		t.Fatalf("got %d, %v", len(got), err)
	}
	// Page 1 failed once (5xx), page 2 twice (internal error, 5xx).
	if n := e.calls.Load(); n != 6 {
		t.Errorf("%d calls; want 3 pages and 3 retries", n)
	}
	if waited := e.clk.Now().Sub(start); waited != 400*time.Millisecond {
		t.Errorf("waited %s; want 100 ms, then 100 and 200 ms", waited)
	}
}

func TestEligible(t *testing.T) {
	for _, tc := range []struct {
		typ, status string
		want        bool
	}{
		{"Ha", "ACTIVE", true}, {"Single", "ACTIVE", true}, {"Replica", "ACTIVE", false},
		{"Ha", "BUILD", false}, {"Ha", "FAILED", false}, {"Ha", "FROZEN", false},
		{"Ha", "BACKING UP", false}, {"Ha", "MODIFYING", false}, {"Ha", "", false},
	} {
		if got, reason := eligible(tc.typ, tc.status); got != tc.want || (!got && reason == "") {
			t.Errorf("eligible(%s, %s) = %v %q", tc.typ, tc.status, got, reason)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := ConfigFromEnv(env(nil))
	if err == nil || !strings.Contains(err.Error(), EnvAK) || !strings.Contains(err.Error(), EnvSK) || !strings.Contains(err.Error(), EnvProjectID) {
		t.Fatalf("all missing: %v", err)
	}
	_, err = ConfigFromEnv(env(map[string]string{EnvAK: "AKVALUE123", EnvProjectID: "p1"}))
	if err == nil || strings.Contains(err.Error(), "AKVALUE123") || !strings.Contains(err.Error(), EnvSK) || strings.Contains(err.Error(), EnvAK+",") {
		t.Fatalf("SK missing: %v", err)
	}
	c, err := ConfigFromEnv(env(map[string]string{EnvAK: "ak", EnvSK: "sk", EnvProjectID: project}))
	if err != nil || c.Region != DefaultRegion || c.Endpoint != "" || c.SK.Reveal() != "sk" || c.Now == nil {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, _ = ConfigFromEnv(env(map[string]string{EnvAK: "ak", EnvSK: "SECRETVALUE", EnvProjectID: project}))
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "SECRETVALUE") {
		t.Errorf("config prints its secret: %s", s)
	}
	c, err = ConfigFromEnv(env(map[string]string{EnvAK: "ak", EnvSK: "sk", EnvProjectID: project,
		EnvRegion: "ap-southeast-1", EnvEndpoint: "127.0.0.1:18081"}))
	if err != nil || c.Region != "ap-southeast-1" || c.Endpoint != "127.0.0.1:18081" {
		t.Fatalf("overrides: %+v %v", c, err)
	}
}

func TestNewRejects(t *testing.T) {
	ok := Config{AK: "ak", SK: "sk", ProjectID: project}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
	}{
		{"no keys (would fall back to ECS metadata)", func(c *Config) { c.AK, c.SK = "", "" }},
		{"no SK", func(c *Config) { c.SK = "" }},
		{"no project", func(c *Config) { c.ProjectID = "" }},
		{"bad region", func(c *Config) { c.Region = "cn north" }},
		{"bad endpoint scheme", func(c *Config) { c.Endpoint = "ftp://host" }},
		{"endpoint with path", func(c *Config) { c.Endpoint = "http://host/v3" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mut(&c)
			if _, err := New(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct{ in, region, want string }{
		{"", "cn-north-4", "https://rds.cn-north-4.myhuaweicloud.com"},
		{"", "ap-southeast-1", "https://rds.ap-southeast-1.myhuaweicloud.com"},
		{"127.0.0.1:18081", "cn-north-4", "http://127.0.0.1:18081"},
		{"http://localhost:9000/", "cn-north-4", "http://localhost:9000"},
		{"https://rds.example.com", "cn-north-4", "https://rds.example.com"},
	} {
		if got, err := endpointURL(tc.in, tc.region); err != nil || got != tc.want {
			t.Errorf("endpointURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// A backup being deleted will never complete: DELETING ends the job as
// failed with that reason instead of polling until the deadline.
// DeleteManualBackup puts it in that state on the emulator.
func TestDeletingEndsTheJob(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	s := spec(in01, "nightly-deleted")
	ref, err := e.p.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(string(ref), "backup/")
	if err := e.p.deleteBackup(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := e.p.Status(ctx, s, ref)
	if err != nil || st.State != provider.Failed || !strings.Contains(st.Detail, "DELETING") {
		t.Fatalf("status of a deleting backup = %+v, %v; want failed, saying DELETING", st, err)
	}
}

// Individually reaches the create body as backup_database_individually.
func TestIndividually(t *testing.T) {
	e := newEnv(t, nil)
	s := spec(in04, "nightly-individual")
	s.Databases, s.Individually = []string{"db1", "db2"}, true
	if _, err := e.p.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	jobs := e.emu.Jobs()
	if len(jobs) != 1 || len(jobs[0].Settings) != 1 || jobs[0].Settings[0] != "backup_database_individually" {
		t.Errorf("jobs = %+v; want one with backup_database_individually", jobs)
	}
}

// countingTransport counts the exchanges that pass through it.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// Every call goes through http.DefaultTransport as it is at call time: the
// crash hook (pkg/app, -tags crashtest) wraps it to count and kill at an
// exchange, which the SDK's own transport never let it do.
func TestCallsUseTheProcessTransport(t *testing.T) {
	e := newEnv(t, nil)
	ct := &countingTransport{next: http.DefaultTransport}
	http.DefaultTransport = ct
	t.Cleanup(func() { http.DefaultTransport = ct.next })
	s := spec(in01, "via-default-transport")
	ref, err := e.p.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Status(context.Background(), s, ref); err != nil {
		t.Fatal(err)
	}
	if got, want := ct.n.Load(), e.calls.Load(); got != 2 || got != want {
		t.Fatalf("%d exchanges through http.DefaultTransport, %d at the emulator; want 2 and 2", got, want)
	}
}

// Config.Transport carries every call when set (the simulator's in-process
// emulator); the exchanges still reach the emulator through it.
func TestConfigTransportCarriesTheCalls(t *testing.T) {
	e := newEnv(t, nil)
	ct := &countingTransport{next: http.DefaultTransport}
	p := e.provider(t, func(c *Config) { c.Transport = ct })
	s := spec(in01, "via-config-transport")
	ref, err := p.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Status(context.Background(), s, ref); err != nil {
		t.Fatal(err)
	}
	if got := ct.n.Load(); got != 2 {
		t.Fatalf("%d exchanges through Config.Transport; want 2", got)
	}
}

// Config.Timeout bounds one exchange (a context deadline since the client's
// own Timeout cost a goroutine per call over an unknown transport); a call
// cut short may have run, so it is ambiguous.
func TestTimeoutBoundsTheExchange(t *testing.T) {
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	defer hs.Close()
	defer close(release)
	p, err := New(Config{AK: testAK, SK: secret.String(testSK), ProjectID: project, Endpoint: hs.URL, Timeout: 100 * time.Millisecond,
		Transport: &countingTransport{next: http.DefaultTransport}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Start(context.Background(), spec(in01, "hangs"))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("call took %s; want about the 100 ms timeout", took)
	}
	if err == nil || apierr.KindOf(err) != apierr.RetryAfterLookup {
		t.Errorf("err = %v (kind %v); want an ambiguous transport error", err, apierr.KindOf(err))
	}
}
