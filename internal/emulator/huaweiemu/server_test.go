package huaweiemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

const (
	testAK  = "HPUAEXAMPLEAK0000001"
	testSK  = "exampleSecretKey0000000000000000000000000"
	project = "0483b6b16e954cb88930a360d2c4e663"
	in01    = "d8e6ca5a624745bcb546a227aa3ae1cfin01" // MySQL
	in04    = "d8e6ca5a624745bcb546a227aa3ae1cfin04" // SQL Server, db1 db2
	replica = "0123456789abcdef0123456789abcdefin02"
	frozen  = "0123456789abcdef0123456789abcdefin03"
	busyID  = "0123456789abcdef0123456789abcdefin05"
)

// testFleet is the default fleet plus a replica, a frozen and a busy instance.
func testFleet() *fixture.Set {
	f := fixture.Default()
	f.Instances = append(f.Instances,
		fixture.Instance{Product: provider.HuaweiRDS, ID: replica, Name: "hw-mysql-ro", Engine: "MySQL", ReadOnly: true,
			Tags: map[string]string{"backupflow": "nightly"}},
		fixture.Instance{Product: provider.HuaweiRDS, ID: frozen, Name: "hw-frozen", Engine: "PostgreSQL", Status: "isolated",
			Tags: map[string]string{"backupflow": "weekly"}},
		fixture.Instance{Product: provider.HuaweiRDS, ID: busyID, Name: "hw-busy", Engine: "MySQL", Busy: true},
	)
	return f
}

type env struct {
	t     *testing.T
	clk   *clocktest.Clock
	srv   *Server
	http  *httptest.Server
	codes map[string]bool // every error_code seen, for the coverage test
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	clk := clocktest.New(time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC))
	// Rate limits are off unless a test turns them on: most tests send more
	// than RateLimit requests within one virtual second.
	o := Options{AK: testAK, SK: testSK, Fleet: testFleet(), Now: clk.Now, DisableRateLimits: true}
	if mod != nil {
		mod(&o)
	}
	s := New(o)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &env{t: t, clk: clk, srv: s, http: hs, codes: map[string]bool{}}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) code() string { s, _ := r.body["error_code"].(string); return s }

// do sends a request signed like the SDK does; edit may tamper after signing.
func (e *env) do(method, path, body string, edit func(*http.Request)) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0")
	req.Header.Set("X-Project-Id", project)
	Sign(req, []byte(body), testAK, testSK, e.clk.Now())
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: buf.String()}
	_ = json.Unmarshal(buf.Bytes(), &r.body)
	if c := r.code(); c != "" {
		e.codes[c] = true
	}
	return r
}

func (e *env) create(body string) reply {
	return e.do(http.MethodPost, "/v3/"+project+"/backups", body, nil)
}

func (e *env) list(query string) reply {
	return e.do(http.MethodGet, "/v3/"+project+"/backups?"+query, "", nil)
}

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// The seed's two example requests, byte for byte.
const (
	seedMySQL     = `{ "instance_id": "d8e6ca5a624745bcb546a227aa3ae1cfin01", "name": "backup", "description": "manual backup" }`
	seedSQLServer = `{ "instance_id": "d8e6ca5a624745bcb546a227aa3ae1cfin04", "name": "backup", "description": "manual backup", "databases": [{ "name": "db1" }, { "name": "db2" }] }`
)

func TestSeedExamples(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, body, instance string
		dbs                  []any
	}{
		{"mysql", seedMySQL, in01, nil},
		{"sqlserver", seedSQLServer, in04, []any{map[string]any{"name": "db1"}, map[string]any{"name": "db2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.create(tc.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, body %s", r.status, r.raw)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id header")
			}
			b, _ := r.body["backup"].(map[string]any)
			want := map[string]any{"instance_id": tc.instance, "name": "backup", "description": "manual backup",
				"status": "BUILDING", "type": "manual"}
			for k, v := range want {
				if b[k] != v {
					t.Errorf("backup.%s = %v, want %v", k, b[k], v)
				}
			}
			if id, _ := b["id"].(string); len(id) != 36 {
				t.Errorf("backup.id = %q, want a UUID", id)
			}
			if bt, _ := b["begin_time"].(string); !timeRE.MatchString(bt) {
				t.Errorf("begin_time = %q", bt)
			}
			got, _ := b["databases"].([]any)
			if len(got) != len(tc.dbs) || (tc.dbs != nil && !jsonEqual(got, tc.dbs)) {
				t.Errorf("databases = %v, want %v", got, tc.dbs)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.create(seedMySQL); r.status != 200 {
		t.Fatalf("setup create: %d %s", r.status, r.raw)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty body", "", 400, codeEmptyBody},
		{"blank body", "  \n", 400, codeEmptyBody},
		{"malformed json", `{"instance_id":`, 400, codeParam},
		{"not an object", `[1,2]`, 400, codeParam},
		{"trailing data", `{"instance_id":"` + in01 + `","name":"abcd"} {}`, 400, codeParam},
		{"unknown field", `{"instance_id":"` + in01 + `","name":"abcd","nmae":"x"}`, 400, codeParam},
		{"no instance", `{"name":"abcd"}`, 400, codeParam},
		{"no name", `{"instance_id":"` + in01 + `"}`, 400, codeParam},
		{"short name", `{"instance_id":"` + in01 + `","name":"abc"}`, 400, codeParam},
		{"long name", `{"instance_id":"` + in01 + `","name":"a` + strings.Repeat("b", 64) + `"}`, 400, codeParam},
		{"name starts with digit", `{"instance_id":"` + in01 + `","name":"1abc"}`, 400, codeParam},
		{"name with dot", `{"instance_id":"` + in01 + `","name":"ab.cd"}`, 400, codeParam},
		{"description with =", `{"instance_id":"` + in01 + `","name":"abcd","description":"a=b"}`, 400, codeParam},
		{"description too long", `{"instance_id":"` + in01 + `","name":"abcd","description":"` + strings.Repeat("x", 257) + `"}`, 400, codeParam},
		{"databases on mysql", `{"instance_id":"` + in01 + `","name":"abcd","databases":[{"name":"db1"}]}`, 400, codeParam},
		{"unknown database", `{"instance_id":"` + in04 + `","name":"abcd","databases":[{"name":"nope"}]}`, 400, codeParam},
		{"empty database name", `{"instance_id":"` + in04 + `","name":"abcd","databases":[{}]}`, 400, codeParam},
		{"individually without databases", `{"instance_id":"` + in04 + `","name":"abcd","backup_database_individually":true}`, 400, codeParam},
		{"unknown instance", `{"instance_id":"ffffffffffffffffffffffffffffffffin01","name":"abcd"}`, 404, codeNoInstance},
		{"tencent instance", `{"instance_id":"cdb-c1nl9rpv","name":"abcd"}`, 404, codeNoInstance},
		{"read replica", `{"instance_id":"` + replica + `","name":"abcd"}`, 400, codeBadState},
		{"frozen instance", `{"instance_id":"` + frozen + `","name":"abcd"}`, 400, codeBadState},
		{"busy instance", `{"instance_id":"` + busyID + `","name":"abcd"}`, 409, codeBusy},
		{"duplicate name", seedMySQL, 409, codeDuplicateName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.create(tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %s, want %d %s (%s)", r.status, r.code(), tc.status, tc.code, r.raw)
			}
			if msg, _ := r.body["error_msg"].(string); msg == "" {
				t.Error("empty error_msg")
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id header")
			}
		})
	}
	// The same name on another instance is fine: uniqueness is per instance,
	// which is what lets both seed examples use "backup".
	if r := e.create(seedSQLServer); r.status != 200 {
		t.Fatalf("same name on another instance: %d %s", r.status, r.raw)
	}
}

func TestSetBusy(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.SetBusy(in01, true)
	if r := e.create(seedMySQL); r.status != 409 || r.code() != codeBusy {
		t.Fatalf("busy: %d %s", r.status, r.raw)
	}
	e.srv.SetBusy(in01, false)
	if r := e.create(seedMySQL); r.status != 200 {
		t.Fatalf("no longer busy: %d %s", r.status, r.raw)
	}
	e.srv.SetBusy(busyID, false) // overrides the fixture
	if r := e.create(`{"instance_id":"` + busyID + `","name":"abcd"}`); r.status != 200 {
		t.Fatalf("fixture busy overridden: %d %s", r.status, r.raw)
	}
}

func TestAuthAndRouting(t *testing.T) {
	e := newEnv(t, nil)
	path := "/v3/" + project + "/backups?instance_id=" + in01
	for _, tc := range []struct {
		name   string
		method string
		path   string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"valid", "GET", path, nil, 200, ""},
		{"no authorization", "GET", path, func(r *http.Request) { r.Header.Del("Authorization") }, 401, codeAuth},
		{"other scheme", "GET", path, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SDK-HMAC-SHA256", "AWS4-HMAC-SHA256", 1))
		}, 401, codeAuth},
		{"unknown access key", "GET", path, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "OTHERAK", 1))
		}, 401, codeAuth},
		{"tampered signature", "GET", path, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-4]+"0000")
		}, 401, codeAuth},
		{"tampered query", "GET", path, func(r *http.Request) { r.URL.RawQuery += "&limit=5" }, 401, codeAuth},
		{"tampered signed header", "GET", path, func(r *http.Request) { r.Header.Set("X-Project-Id", "x") }, 401, codeAuth},
		{"date not signed", "GET", path, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-sdk-date", "", 1))
		}, 401, codeAuth},
		{"malformed date", "GET", path, func(r *http.Request) { r.Header.Set("X-Sdk-Date", "yesterday") }, 401, codeAuth},
		{"unsigned content type may change", "GET", path, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 200, ""},
		{"unknown path", "GET", "/v3/" + project + "/flavors", nil, 404, codeNotFoundAPI},
		{"unknown version", "GET", "/v1/" + project + "/backups", nil, 404, codeNotFoundAPI},
		{"wrong method", "DELETE", "/v3/" + project + "/backups", nil, 404, codeNotFoundAPI},
		{"root", "GET", "/", nil, 404, codeNotFoundAPI},
		{"other project", "GET", "/v3/ffffffffffffffffffffffffffffffff/backups?instance_id=" + in01, func(r *http.Request) {
			r.Header.Del("X-Project-Id")
			Sign(r, nil, testAK, testSK, e.clk.Now())
		}, 403, codeForbidden},
		{"project header mismatch", "GET", path, func(r *http.Request) {
			r.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
			Sign(r, nil, testAK, testSK, e.clk.Now())
		}, 403, codeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, "", tc.edit)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), tc.status, tc.code, r.raw)
			}
			id := r.header.Get("X-Request-Id")
			if id == "" {
				t.Fatal("no X-Request-Id header")
			}
			if strings.HasPrefix(tc.code, "APIGW.") && r.body["request_id"] != id {
				t.Errorf("body request_id %v, header %s", r.body["request_id"], id)
			}
		})
	}
}

func TestClockSkew(t *testing.T) {
	e := newEnv(t, nil)
	path := "/v3/" + project + "/backups?instance_id=" + in01
	for _, tc := range []struct {
		name   string
		skew   time.Duration
		status int
		code   string
	}{
		{"14 min behind", -14 * time.Minute, 200, ""},
		{"14 min ahead", 14 * time.Minute, 200, ""},
		{"16 min behind", -16 * time.Minute, 401, codeClockSkew},
		{"16 min ahead", 16 * time.Minute, 401, codeClockSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", path, "", func(r *http.Request) { Sign(r, nil, testAK, testSK, e.clk.Now().Add(tc.skew)) })
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %q, want %d %q", r.status, r.code(), tc.status, tc.code)
			}
		})
	}
	// A forged request with an old date is a signature failure, not a clock one.
	r := e.do("GET", path, "", func(r *http.Request) {
		Sign(r, nil, testAK, "wrong", e.clk.Now().Add(time.Hour))
	})
	if r.code() != codeAuth {
		t.Fatalf("forged and stale: %s", r.code())
	}
}

func TestBodyIsSigned(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"instance_id":"` + in01 + `","name":"abcd"}`
	req, _ := http.NewRequest("POST", e.http.URL+"/v3/"+project+"/backups", strings.NewReader(`{"instance_id":"`+in01+`","name":"abce"}`))
	req.Header.Set("Content-Type", "application/json")
	Sign(req, []byte(body), testAK, testSK, e.clk.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("body swapped after signing: %d", resp.StatusCode)
	}
}

func TestStateProgression(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.JobDuration = 5 * time.Second })
	r := e.create(seedMySQL)
	id := r.body["backup"].(map[string]any)["id"].(string)
	e.srv.SetFailJobs(in01, "disk full")
	failedID := e.create(`{"instance_id":"` + in01 + `","name":"second"}`).body["backup"].(map[string]any)["id"].(string)

	status := func(id string) (string, map[string]any) {
		t.Helper()
		r := e.list("instance_id=" + in01 + "&backup_id=" + id)
		bs, _ := r.body["backups"].([]any)
		if r.status != 200 || len(bs) != 1 || r.body["total_count"] != float64(1) {
			t.Fatalf("list %s: %d %s", id, r.status, r.raw)
		}
		b := bs[0].(map[string]any)
		return b["status"].(string), b
	}
	if st, b := status(id); st != "BUILDING" || b["end_time"] != "" {
		t.Fatalf("at start: %s, end_time %v", st, b["end_time"])
	}
	e.clk.Advance(4 * time.Second)
	if st, _ := status(id); st != "BUILDING" {
		t.Fatalf("after 4 s: %s", st)
	}
	e.clk.Advance(time.Second)
	st, b := status(id)
	if st != "COMPLETED" || !timeRE.MatchString(b["end_time"].(string)) || b["size"].(float64) <= 0 {
		t.Fatalf("after 5 s: %v", b)
	}
	if ds := b["datastore"].(map[string]any); ds["type"] != "MySQL" || ds["version"] == "" {
		t.Errorf("datastore %v", ds)
	}
	if st, _ := status(failedID); st != "FAILED" {
		t.Fatalf("failing instance: %s", st)
	}
	jobs := e.srv.Jobs()
	if len(jobs) != 2 || jobs[0].State != provider.Succeeded || jobs[1].State != provider.Failed ||
		jobs[1].Detail != "disk full" || jobs[0].Finished.Sub(jobs[0].Created) != 5*time.Second ||
		jobs[0].Product != provider.HuaweiRDS || jobs[0].ID != id || jobs[1].Name != "second" {
		t.Fatalf("jobs %+v", jobs)
	}
}

func TestFixtureFailAndDuration(t *testing.T) {
	f := testFleet()
	for i := range f.Instances {
		if f.Instances[i].ID == in04 {
			f.Instances[i].FailJobs = "VDI error"
			f.Instances[i].Duration = time.Minute
		}
	}
	e := newEnv(t, func(o *Options) { o.Fleet = f })
	e.create(seedSQLServer)
	e.clk.Advance(59 * time.Second)
	if j := e.srv.Jobs(); j[0].State != provider.Running {
		t.Fatalf("before duration: %+v", j)
	}
	e.clk.Advance(time.Second)
	if j := e.srv.Jobs(); j[0].State != provider.Failed || j[0].Detail != "VDI error" {
		t.Fatalf("after duration: %+v", j)
	}
}

func TestListBackups(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.JobDuration = time.Minute })
	var ids []string
	for _, n := range []string{"b-one", "b-two", "b-three"} {
		r := e.create(`{"instance_id":"` + in01 + `","name":"` + n + `"}`)
		ids = append(ids, r.body["backup"].(map[string]any)["id"].(string))
		e.clk.Advance(time.Second)
	}
	e.create(seedSQLServer)
	names := func(r reply) []string {
		var out []string
		for _, b := range r.body["backups"].([]any) {
			out = append(out, b.(map[string]any)["name"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name, query string
		want        []string
		total       float64
	}{
		{"all, newest first", "instance_id=" + in01, []string{"b-three", "b-two", "b-one"}, 3},
		{"manual", "instance_id=" + in01 + "&backup_type=manual", []string{"b-three", "b-two", "b-one"}, 3},
		{"auto", "instance_id=" + in01 + "&backup_type=auto", nil, 0},
		{"by id", "instance_id=" + in01 + "&backup_id=" + ids[1], []string{"b-two"}, 1},
		{"id of another instance", "instance_id=" + in04 + "&backup_id=" + ids[1], nil, 0},
		{"page", "instance_id=" + in01 + "&offset=1&limit=1", []string{"b-two"}, 3},
		{"past the end", "instance_id=" + in01 + "&offset=5", nil, 3},
		{"status", "instance_id=" + in01 + "&status=BUILDING", []string{"b-three", "b-two", "b-one"}, 3},
		{"time range", "instance_id=" + in01 + "&begin_time=2024-05-01T10:00:01%2B0800&end_time=2024-05-01T02:00:02Z", []string{"b-three", "b-two"}, 2},
		{"other instance", "instance_id=" + in04, []string{"backup"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.list(tc.query)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if got := names(r); !slices.Equal(got, tc.want) || r.body["total_count"] != tc.total {
				t.Fatalf("got %v total %v, want %v total %v", got, r.body["total_count"], tc.want, tc.total)
			}
		})
	}
	for _, tc := range []struct {
		name, query string
		status      int
		code        string
	}{
		{"no instance_id", "backup_type=manual", 400, codeParam},
		{"unknown instance", "instance_id=ffffffffffffffffffffffffffffffffin01", 404, codeNoInstance},
		{"limit 0", "instance_id=" + in01 + "&limit=0", 400, codeParam},
		{"limit 101", "instance_id=" + in01 + "&limit=101", 400, codeParam},
		{"negative offset", "instance_id=" + in01 + "&offset=-1", 400, codeParam},
		{"bad type", "instance_id=" + in01 + "&backup_type=full", 400, codeParam},
		{"bad status", "instance_id=" + in01 + "&status=DONE", 400, codeParam},
		{"begin without end", "instance_id=" + in01 + "&begin_time=2024-05-01T00:00:00Z", 400, codeParam},
		{"bad time", "instance_id=" + in01 + "&begin_time=x&end_time=y", 400, codeParam},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.list(tc.query); r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.code(), tc.status, tc.code)
			}
		})
	}
}

func TestListInstances(t *testing.T) {
	e := newEnv(t, nil)
	get := func(q string) reply { return e.do("GET", "/v3/"+project+"/instances?"+q, "", nil) }
	ids := func(r reply) []string {
		var out []string
		for _, in := range r.body["instances"].([]any) {
			out = append(out, in.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{in01, in04, replica, frozen, busyID}},
		{"nightly", "tags=backupflow%3Dnightly", []string{in01, in04, replica}},
		{"and", "tags=backupflow%3Dnightly%2Cteam%3Ddb", []string{in01, in04}},
		{"any value", "tags=backupflow%3D", []string{in01, in04, replica, frozen}},
		{"no match", "tags=backupflow%3Dhourly", nil},
		{"by id", "id=" + in04, []string{in04}},
		{"fuzzy name", "name=*mssql", []string{in04}},
		{"replicas", "type=Replica", []string{replica}},
		{"datastore", "datastore_type=PostgreSQL", []string{frozen}},
		{"page", "limit=2&offset=1", []string{in04, replica}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(tc.query)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if got := ids(r); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	r := get("id=" + frozen)
	in := r.body["instances"].([]any)[0].(map[string]any)
	if in["status"] != "FROZEN" || in["type"] != "Ha" || in["region"] != "cn-north-4" ||
		in["datastore"].(map[string]any)["type"] != "PostgreSQL" ||
		!jsonEqual(in["tags"], []any{map[string]any{"key": "backupflow", "value": "weekly"}}) {
		t.Fatalf("instance view %v", in)
	}
	if r := get("id=" + replica); r.body["instances"].([]any)[0].(map[string]any)["type"] != "Replica" {
		t.Fatal("replica type")
	}
	for _, q := range []string{"tags=novalue", "tags=a%3Db%3Dc", "limit=0", "type=Cluster", "datastore_type=mysql",
		"tags=" + strings.Repeat("k%3Dv%2C", 10) + "k%3Dv"} {
		if r := get(q); r.status != 400 || r.code() != codeParam {
			t.Errorf("%s: %d %s", q, r.status, r.code())
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.DisableRateLimits = false })
	q := "instance_id=" + in01
	for i := 0; i < RateLimit; i++ {
		if r := e.list(q); r.status != 200 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	r := e.list(q)
	if r.status != 429 || r.code() != codeThrottled || r.body["request_id"] != r.header.Get("X-Request-Id") {
		t.Fatalf("over the limit: %d %s", r.status, r.raw)
	}
	// Other APIs have their own budget.
	if r := e.create(seedMySQL); r.status != 200 {
		t.Fatalf("create while lists are throttled: %d", r.status)
	}
	e.clk.Advance(time.Second)
	if r := e.list(q); r.status != 200 {
		t.Fatalf("next second: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	inj := fault.New(0, 1)
	inj.SlowDelay = time.Millisecond
	e := newEnv(t, func(o *Options) { o.Faults = inj })
	count := func() int { return len(e.srv.Jobs()) }

	// First ambiguous fault on a create performs it; the second does not.
	inj.Force(fault.InternalError)
	if r := e.create(seedMySQL); r.status != 500 || r.code() != codeInternal {
		t.Fatalf("internal: %d %s", r.status, r.raw)
	}
	if count() != 1 {
		t.Fatalf("first internal error should have created the backup; jobs %d", count())
	}
	inj.Force(fault.InternalError)
	if r := e.create(`{"instance_id":"` + in01 + `","name":"other"}`); r.status != 500 {
		t.Fatalf("internal: %d", r.status)
	}
	if count() != 1 {
		t.Fatalf("second internal error should not create; jobs %d", count())
	}

	inj.Force(fault.Drop)
	req, _ := http.NewRequest("POST", e.http.URL+"/v3/"+project+"/backups", strings.NewReader(seedSQLServer))
	Sign(req, []byte(seedSQLServer), testAK, testSK, e.clk.Now())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("drop: got an answer %d", resp.StatusCode)
	}
	if count() != 2 {
		t.Fatalf("third ambiguous fault should create; jobs %d", count())
	}

	for _, tc := range []struct {
		kind   fault.Kind
		status int
		code   string
	}{
		{fault.ServerError, 503, ""},
		{fault.Throttle, 429, codeThrottled},
		{fault.Busy, 409, codeBusy},
		{fault.Slow, 200, ""},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			inj.Force(tc.kind)
			r := e.create(`{"instance_id":"` + in01 + `","name":"f-` + tc.kind.String() + `"}`)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %q, want %d %q", r.status, r.code(), tc.status, tc.code)
			}
		})
	}
	// Busy on a read becomes an internal error (fault.Injector's rule).
	inj.Force(fault.Busy)
	if r := e.list("instance_id=" + in01); r.status != 500 || r.code() != codeInternal {
		t.Fatalf("busy on a read: %d %s", r.status, r.code())
	}
}

// TestCodes checks every code the emulator claims is classified by apierr,
// and that the tests above can make it answer with each of them.
func TestCodes(t *testing.T) {
	known := apierr.KnownCodes(apierr.Huawei)
	e := newEnv(t, func(o *Options) { o.Faults = fault.New(0, 1) })
	for _, c := range e.srv.Codes() {
		if !slices.Contains(known, c) {
			t.Errorf("code %s is not in the apierr table", c)
		}
	}
	path := "/v3/" + project + "/backups"
	e.create("")
	e.create(`{}`)
	e.create(`{"instance_id":"ffffffffffffffffffffffffffffffffin01","name":"abcd"}`)
	e.create(`{"instance_id":"` + busyID + `","name":"abcd"}`)
	e.create(`{"instance_id":"` + replica + `","name":"abcd"}`)
	e.create(seedMySQL)
	e.create(seedMySQL)
	e.do("GET", "/nope", "", nil)
	e.do("DELETE", path+"/no-such-backup", "", nil)
	e.do("GET", path, "", func(r *http.Request) { r.Header.Del("Authorization") })
	e.do("GET", path, "", func(r *http.Request) { Sign(r, nil, testAK, testSK, e.clk.Now().Add(time.Hour)) })
	e.do("GET", "/v3/x/backups", "", func(r *http.Request) { r.Header.Del("X-Project-Id"); Sign(r, nil, testAK, testSK, e.clk.Now()) })
	e.srv.o.Faults.Force(fault.InternalError, fault.Throttle)
	e.list("instance_id=" + in01)
	e.list("instance_id=" + in01)
	var seen []string
	for c := range e.codes {
		seen = append(seen, c)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, e.srv.Codes()) {
		t.Fatalf("answered %v, Codes() %v", seen, e.srv.Codes())
	}
}
