package descriptor

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/objstore/cosstore"
	"github.com/backupflow/backupflow/pkg/objstore/s3store"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue"
	"github.com/backupflow/backupflow/pkg/queue/sqsqueue"
	"github.com/backupflow/backupflow/pkg/wecom"
)

// repoRoot is where the descriptors, functions/ and events/ live.
const repoRoot = "../.."

func loadServerless(t *testing.T) *Serverless {
	t.Helper()
	s, err := LoadServerless(filepath.Join(repoRoot, "serverless.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func loadSAM(t *testing.T) *SAM {
	t.Helper()
	s, err := LoadSAM(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// functionDirs lists functions/*: the deployable functions.
func functionDirs(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatal("no functions/")
	}
	return out
}

// samFunctions maps each function directory to its SAM logical id through
// the Makefile's build-<LogicalId> target, which is what `sam build` runs.
func samFunctions(t *testing.T, sam *SAM) map[string]string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):\s*\n\t(.*)$`).FindAllStringSubmatch(string(mk), -1)
	out := map[string]string{}
	for _, m := range targets {
		recipe := m[2]
		fn := regexp.MustCompile(`\./functions/([a-z0-9-]+)`).FindStringSubmatch(recipe)
		if fn == nil {
			t.Errorf("Makefile build-%s: recipe builds no ./functions/<fn>", m[1])
			continue
		}
		if !strings.Contains(recipe, "$(SAM_BUILD)") {
			t.Errorf("Makefile build-%s: recipe does not use $(SAM_BUILD)", m[1])
		}
		out[fn[1]] = m[1]
	}
	if !regexp.MustCompile(`(?m)^SAM_BUILD = .*GOARCH=arm64 .*\$\(BUILDFLAGS\) -tags lambda\.norpc -o \$\(ARTIFACTS_DIR\)/bootstrap$`).Match(mk) {
		t.Error("Makefile: SAM_BUILD must build linux/arm64 with $(BUILDFLAGS) -tags lambda.norpc into $(ARTIFACTS_DIR)/bootstrap")
	}
	for fn, id := range out {
		if _, ok := sam.Resources[id]; !ok {
			t.Errorf("Makefile build-%s (functions/%s) has no resource in template.yaml", id, fn)
		}
	}
	return out
}

func TestServerlessFunctions(t *testing.T) {
	s := loadServerless(t)
	dirs := functionDirs(t)
	if got := s.FunctionNames(); strings.Join(got, ",") != strings.Join(sorted(dirs), ",") {
		t.Fatalf("serverless.yml functions %v, want functions/ %v", got, sorted(dirs))
	}
	if s.Component != "multi-scf" || s.Inputs.Runtime != "Go1" {
		t.Errorf("component %q runtime %q, want multi-scf and Go1", s.Component, s.Inputs.Runtime)
	}
	if s.Inputs.Role == "" {
		t.Error("no execution role: the functions would run without credentials")
	}
	for _, fn := range dirs {
		f := s.Inputs.Functions[fn]
		if filepath.Clean(f.Src) != fn {
			t.Errorf("%s: src %q, want ./%s (make build writes dist/scf/%s/main)", fn, f.Src, fn, fn)
		}
		if f.Runtime != "" && f.Runtime != "Go1" {
			t.Errorf("%s: runtime %q", fn, f.Runtime)
		}
		mem, timeout := f.MemorySize, f.Timeout
		if mem == 0 {
			mem = s.Inputs.MemorySize
		}
		if timeout == 0 {
			timeout = s.Inputs.Timeout
		}
		if mem != 64 && (mem < 128 || mem > 3072 || mem%128 != 0) {
			t.Errorf("%s: memory %d MB is not an SCF size", fn, mem)
		}
		if timeout < 1 || timeout > 900 {
			t.Errorf("%s: timeout %d s outside SCF's 1-900", fn, timeout)
		}
		web := fileExists(filepath.Join(repoRoot, "functions", fn, "start_scf.go")) &&
			strings.Contains(readFile(t, filepath.Join(repoRoot, "functions", fn, "start_scf.go")), "ServeWeb")
		switch {
		case web && (f.Type != "web" || f.Handler != "scf_bootstrap"):
			t.Errorf("%s serves HTTP: want type web and handler scf_bootstrap, got %q %q", fn, f.Type, f.Handler)
		case web && !fileExists(filepath.Join(repoRoot, "functions", fn, "scf_bootstrap")):
			t.Errorf("%s: functions/%s/scf_bootstrap missing", fn, fn)
		case !web && (f.Type == "web" || f.Handler != "main"):
			t.Errorf("%s: want an event function with handler main (the binary's name), got %q %q", fn, f.Type, f.Handler)
		}
	}
	for _, q := range s.Ext.Queues {
		if q.MaxUnackSeconds < 3600+q.VisibilityTimeout || q.MaxUnackSeconds > 43200 {
			t.Errorf("queue %s: max unack %d s must cover the longest delay (3600 s) plus a visibility period, at most 43200", q.Name, q.MaxUnackSeconds)
		}
		if q.VisibilityTimeout < 1 || q.VisibilityTimeout > 43200 {
			t.Errorf("queue %s: visibility %d s outside 1-43200", q.Name, q.VisibilityTimeout)
		}
	}
}

func TestSAMFunctions(t *testing.T) {
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	dirs := functionDirs(t)
	if len(ids) != len(dirs) || len(sam.Functions()) != len(dirs) {
		t.Fatalf("template.yaml functions %v, Makefile targets %v, functions/ %v", sam.Functions(), ids, dirs)
	}
	if sam.Transform != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform %v", sam.Transform)
	}
	for _, fn := range dirs {
		id, ok := ids[fn]
		if !ok {
			t.Errorf("functions/%s: no build-<LogicalId> target in the Makefile", fn)
			continue
		}
		if got := sam.Prop(id, "Runtime"); got != "provided.al2023" {
			t.Errorf("%s: Runtime %v", id, got)
		}
		if got := sam.Prop(id, "Handler"); got != "bootstrap" {
			t.Errorf("%s: Handler %v, want bootstrap (the binary's name)", id, got)
		}
		if got, _ := json.Marshal(sam.Prop(id, "Architectures")); string(got) != `["arm64"]` {
			t.Errorf("%s: Architectures %s, want [arm64] (make build's GOARCH)", id, got)
		}
		if got := sam.Resources[id].Metadata["BuildMethod"]; got != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod %v, want makefile", id, got)
		}
		if got := sam.Prop(id, "CodeUri"); got != "." {
			t.Errorf("%s: CodeUri %v, want . (where the Makefile is)", id, got)
		}
		if tm, ok := sam.Prop(id, "Timeout").(int); !ok || tm < 1 || tm > 900 {
			t.Errorf("%s: Timeout %v outside 1-900", id, sam.Prop(id, "Timeout"))
		}
	}
	// An SQS consumer's queue must stay hidden at least as long as the
	// consumer may run, or Lambda refuses the mapping.
	for _, id := range sam.Functions() {
		timeout, _ := sam.Prop(id, "Timeout").(int)
		for name, e := range sam.Events(id) {
			if e["Type"] != "SQS" {
				continue
			}
			p := asMap(e["Properties"])
			q := queueOf(p["Queue"])
			vis, _ := sam.Resources[q].Properties["VisibilityTimeout"].(int)
			if vis < timeout {
				t.Errorf("%s event %s: queue %s visibility %d s < function timeout %d s", id, name, q, vis, timeout)
			}
			if rp := asMap(sam.Resources[q].Properties["RedrivePolicy"]); rp["deadLetterTargetArn"] == nil {
				t.Errorf("queue %s has no RedrivePolicy", q)
			}
			if got, _ := json.Marshal(p["FunctionResponseTypes"]); string(got) != `["ReportBatchItemFailures"]` {
				t.Errorf("%s event %s: FunctionResponseTypes %s", id, name, got)
			}
		}
	}
}

// queueOf returns the logical id in !GetAtt Q.Arn.
func queueOf(v any) string {
	s, _ := asMap(v)["Fn::GetAtt"].(string)
	q, _, _ := strings.Cut(s, ".")
	return q
}

// TestNoSecretLiterals: secret variables come from references, never from
// values written into the descriptors.
func TestNoSecretLiterals(t *testing.T) {
	secrets := secretVariables()
	s := loadServerless(t)
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	for _, fn := range functionDirs(t) {
		for k, v := range s.EnvKeys(fn) {
			if _, ref := EnvRef(v); secrets[k] && !ref {
				t.Errorf("serverless.yml %s: %s is a secret; use ${env:%s}", fn, k, k)
			}
		}
		for k, v := range sam.EnvKeys(ids[fn]) {
			if _, lit := v.(string); secrets[k] && lit {
				t.Errorf("template.yaml %s: %s is a secret; use !Ref of a NoEcho parameter", ids[fn], k)
			}
			if ref, ok := asMap(v)["Ref"].(string); ok && secrets[k] {
				if p, ok := sam.Parameters[ref]; !ok || p["NoEcho"] != true {
					t.Errorf("template.yaml %s: %s comes from parameter %s, which is not NoEcho", ids[fn], k, ref)
				}
			}
		}
	}
}

// secretVariables are the variables whose values are credentials: every
// secret.String field of the configuration, and the cloud keys.
func secretVariables() map[string]bool {
	out := map[string]bool{"TENCENTCLOUD_SECRET_ID": true, "TENCENTCLOUD_SECRET_KEY": true,
		"HUAWEICLOUD_SDK_AK": true, "HUAWEICLOUD_SDK_SK": true}
	for _, typ := range []reflect.Type{reflect.TypeOf(config.Config{}), reflect.TypeOf(chatapp.ChatConfig{}),
		reflect.TypeOf(feishu.Settings{}), reflect.TypeOf(wecom.Settings{})} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if tag := f.Tag.Get("env"); tag != "" && f.Type.Name() == "String" && strings.HasSuffix(f.Type.PkgPath(), "/secret") {
				out[tag] = true
			}
		}
	}
	for _, v := range app.ReplyVariables {
		out[v] = true
	}
	return out
}

// readVariables returns every variable a function reads: the env tags
// of config.Config, the drivers' Settings and the chat APIs' Settings
// (Feishu, WeCom app: every function that ends a job sends its result
// through them) and chatapp.ChatConfig (chatops), the reply
// channels, and every getenv("NAME") in the adapters the functions link.
func readVariables(t *testing.T, fn string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	types := []reflect.Type{reflect.TypeOf(config.Config{}), reflect.TypeOf(cmqqueue.Settings{}), reflect.TypeOf(sqsqueue.Settings{}),
		reflect.TypeOf(cosstore.Settings{}), reflect.TypeOf(s3store.Settings{}),
		reflect.TypeOf(feishu.Settings{}), reflect.TypeOf(wecom.Settings{})}
	if fn == "chatops" {
		types = append(types, reflect.TypeOf(chatapp.ChatConfig{}))
	}
	for _, typ := range types {
		for i := range typ.NumField() {
			if tag := typ.Field(i).Tag.Get("env"); tag != "" {
				out[tag] = true
			}
		}
	}
	for _, v := range app.ReplyVariables {
		out[v] = true
	}
	for _, dir := range []string{"pkg/app", "pkg/tencent", "pkg/provider/huaweirds", "pkg/queue/sqsqueue", "pkg/queue/cmqqueue", "pkg/objstore", "pkg/ledger"} {
		for _, v := range getenvNames(t, dir) {
			out[v] = true
		}
	}
	return out
}

// crashtestOnly reports a file built only with -tags crashtest: the crash
// tests' hooks read variables no deployment sets, and no shipped binary
// holds that code (TestCrashHookNotInProduction).
func crashtestOnly(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.HasPrefix(first, "//go:build crashtest")
}

// getenvNames finds getenv/Getenv calls whose argument is a string literal
// or a package constant.
func getenvNames(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	//lint:ignore SA1019 files are picked by name, so ParseDir's blindness to build tags is what this wants
	pkgs, err := parser.ParseDir(fset, filepath.Join(repoRoot, dir), func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go") && !crashtestOnly(filepath.Join(repoRoot, dir, fi.Name()))
	}, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pkgs {
		var files []*ast.File
		for _, f := range p.Files {
			files = append(files, f)
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					return true
				}
				name := ""
				switch fun := call.Fun.(type) {
				case *ast.Ident:
					name = fun.Name
				case *ast.SelectorExpr:
					name = fun.Sel.Name
				}
				if name != "getenv" && name != "Getenv" && name != "LookupEnv" {
					return true
				}
				switch a := call.Args[0].(type) {
				case *ast.BasicLit:
					if v, err := strconv.Unquote(a.Value); err == nil {
						out = append(out, v)
					}
				case *ast.Ident:
					if v := constString(files, a.Name); v != "" {
						out = append(out, v)
					}
				}
				return true
			})
		}
	}
	return out
}

// TestEnvironmentDeclared: every variable a function reads is set in both
// descriptors or catalogued there (platform, local, defaults, optional),
// and nothing set or catalogued is unknown to the code.
func TestEnvironmentDeclared(t *testing.T) {
	s := loadServerless(t)
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	known := map[string]bool{}
	for _, fn := range functionDirs(t) {
		for v := range readVariables(t, fn) {
			known[v] = true
		}
	}
	for _, d := range []struct {
		name    string
		catalog map[string]string
		set     func(fn string) map[string]bool
	}{
		{"serverless.yml", s.Ext.Environment.All(), func(fn string) map[string]bool {
			out := map[string]bool{}
			for k := range s.EnvKeys(fn) {
				out[k] = true
			}
			return out
		}},
		{"template.yaml", sam.Ext.Environment.All(), func(fn string) map[string]bool {
			out := map[string]bool{}
			for k := range sam.EnvKeys(ids[fn]) {
				out[k] = true
			}
			return out
		}},
	} {
		for _, fn := range functionDirs(t) {
			set := d.set(fn)
			for _, v := range sortedKeys(readVariables(t, fn)) {
				if _, cat := d.catalog[v]; set[v] && cat {
					t.Errorf("%s %s: %s is both set and catalogued as %s", d.name, fn, v, d.catalog[v])
				}
				if _, cat := d.catalog[v]; !set[v] && !cat {
					t.Errorf("%s %s: %s is read by the code but neither set nor catalogued", d.name, fn, v)
				}
			}
			for v := range set {
				if !known[v] {
					t.Errorf("%s %s: sets %s, which no function reads", d.name, fn, v)
				}
			}
		}
		for v := range d.catalog {
			if !known[v] {
				t.Errorf("%s catalogues %s, which no function reads", d.name, v)
			}
		}
	}
}

// TestTriggersHaveDecodersAndSamples: every trigger in both descriptors has
// a sample event in events/<fn>/ that pkg/event decodes to what that
// trigger delivers, and the deployed values (timer argument, COS filter)
// behave as the function expects.
func TestTriggersHaveDecodersAndSamples(t *testing.T) {
	s := loadServerless(t)
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	decode := func(path string) *event.Trigger {
		t.Helper()
		b, err := fs.ReadFile(events.FS, path)
		if err != nil {
			t.Fatalf("sample %s: %v", path, err)
		}
		tr, err := event.Decode(b)
		if err != nil {
			t.Fatalf("sample %s: %v", path, err)
		}
		return tr
	}
	for _, tr := range s.Inputs.Triggers {
		fn := tr.Function
		switch tr.Type {
		case "timer":
			if n := len(strings.Fields(tr.Parameters.CronExpression)); n != 7 {
				t.Errorf("%s timer %s: cron %q has %d fields, SCF wants 7", fn, tr.Parameters.Name, tr.Parameters.CronExpression, n)
			}
			sample := fn + "/scf-timer.json"
			if tr.Parameters.Argument == "drain" {
				sample = firstSample(t, fn, "scf-timer")
			}
			if got := decode(sample); got.Timer == nil || got.Timer.Platform != "scf" {
				t.Errorf("%s: %s does not decode to an SCF timer", fn, sample)
			}
		case "cos":
			p := tr.Parameters
			if p.Events != "cos:ObjectCreated:*" || p.Filter.Prefix == "" || p.Filter.Suffix == "" {
				t.Errorf("%s cos trigger: events %q filter %+v; want cos:ObjectCreated:* with prefix and suffix", fn, p.Events, p.Filter)
			}
			if !regexp.MustCompile(`^[a-z0-9-]+-[0-9]+\.cos\.[a-z0-9-]+\.myqcloud\.com$`).MatchString(p.Bucket) {
				t.Errorf("%s cos trigger: bucket %q, want <name>-<appid>.cos.<region>.myqcloud.com", fn, p.Bucket)
			}
			got := decode(fn + "/scf-cos-put.json")
			if len(got.Objects) == 0 || got.Objects[0].Platform != "cos" {
				t.Errorf("%s: scf-cos-put.json does not decode to a COS object", fn)
			}
		default:
			t.Errorf("%s: trigger type %q has no decoder in pkg/event", fn, tr.Type)
		}
	}
	// Each drain timer must reach a function that drains.
	for _, fn := range []string{"create-backup", "poll-status"} {
		if len(s.TriggersOf(fn, "timer")) == 0 {
			t.Errorf("%s: no timer; CMQ queues cannot trigger SCF, so nothing would drain its queue", fn)
		}
	}
	for _, fn := range functionDirs(t) {
		id := ids[fn]
		for name, e := range sam.Events(id) {
			p := asMap(e["Properties"])
			switch e["Type"] {
			case "Schedule":
				if expr, _ := p["Schedule"].(string); !strings.HasPrefix(expr, "cron(") && !strings.HasPrefix(expr, "rate(") {
					t.Errorf("%s %s: schedule %q", id, name, expr)
				}
				// A rule's Input replaces the Scheduled Event and its time: a
				// retried delivery would land in a new slot.
				if _, ok := p["Input"]; ok {
					t.Errorf("%s %s: a scheduled rule with an Input passes no scheduled time; use ScheduleV2 with %s", id, name, event.ScheduledTimeKey)
				}
				if got := decode(fn + "/aws-schedule.json"); got.Timer == nil || got.Timer.Platform != "aws" {
					t.Errorf("%s: aws-schedule.json does not decode to a schedule", fn)
				}
			case "ScheduleV2":
				if expr, _ := p["ScheduleExpression"].(string); !strings.HasPrefix(expr, "cron(") && !strings.HasPrefix(expr, "rate(") {
					t.Errorf("%s %s: schedule %q", id, name, expr)
				}
				// Scheduler fills <aws.scheduler.scheduled-time> with the same
				// time on every retry of one invocation; the run's slot comes
				// from it, so a retry makes no second set of jobs.
				in, _ := p["Input"].(string)
				const attr = "<aws.scheduler.scheduled-time>"
				at := time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC)
				got, err := event.Decode([]byte(strings.ReplaceAll(in, attr, at.Format(time.RFC3339))))
				if !strings.Contains(in, attr) || err != nil || got.Timer == nil || !got.Timer.Time.Equal(at) {
					t.Errorf("%s %s: Input %q must pass %s as %q (decoded: %v)", id, name, in, attr, event.ScheduledTimeKey, err)
				}
				if got := decode(fn + "/aws-schedule-scheduler.json"); got.Timer == nil || got.Timer.Time.IsZero() {
					t.Errorf("%s: aws-schedule-scheduler.json does not decode to a schedule with its time", fn)
				}
			case "SQS":
				if got := decode(fn + "/aws-sqs.json"); len(got.Messages) == 0 || got.Messages[0].Platform != "sqs" {
					t.Errorf("%s: aws-sqs.json does not decode to SQS messages", fn)
				}
			case "S3":
				if b := asMap(p["Bucket"])["Ref"]; b == nil || sam.Resources[b.(string)].Type != "AWS::S3::Bucket" {
					t.Errorf("%s %s: the S3 event's bucket must be a bucket of this template", id, name)
				}
				rules := map[string]string{}
				for _, r := range asList(asMap(asMap(p["Filter"])["S3Key"])["Rules"]) {
					rules[asMap(r)["Name"].(string)], _ = asMap(r)["Value"].(string)
				}
				if rules["prefix"] == "" || rules["suffix"] == "" || p["Events"] != "s3:ObjectCreated:*" {
					t.Errorf("%s %s: want s3:ObjectCreated:* with a prefix and a suffix rule, got %v %v", id, name, p["Events"], rules)
				}
				if got := decode(fn + "/aws-s3-put.json"); len(got.Objects) == 0 || got.Objects[0].Platform != "s3" {
					t.Errorf("%s: aws-s3-put.json does not decode to an S3 object", fn)
				}
			default:
				t.Errorf("%s %s: event type %v has no decoder in pkg/event", id, name, e["Type"])
			}
		}
	}
	// The chat endpoint: a web function on SCF, a function URL on AWS,
	// each with signed request samples the local tools replay.
	for _, fn := range functionDirs(t) {
		if s.Inputs.Functions[fn].Type != "web" {
			continue
		}
		url := asMap(sam.Resources[ids[fn]].Properties["FunctionUrlConfig"])
		if url["AuthType"] != "NONE" {
			t.Errorf("%s: FunctionUrlConfig.AuthType %v, want NONE (the function verifies signatures)", ids[fn], url["AuthType"])
		}
		samples, _ := fs.Glob(events.FS, fn+"/*.json")
		if len(samples) == 0 {
			t.Errorf("%s: no request samples in events/%s", fn, fn)
		}
		for _, p := range samples {
			b, _ := fs.ReadFile(events.FS, p)
			var req struct{ Method, Path string }
			if err := json.Unmarshal(b, &req); err != nil || req.Method == "" || !strings.HasPrefix(req.Path, "/") {
				t.Errorf("%s: not an HTTP request sample (method, path): %v", p, err)
			}
		}
	}
}

func firstSample(t *testing.T, fn, prefix string) string {
	t.Helper()
	m, _ := fs.Glob(events.FS, fn+"/"+prefix+"*.json")
	if len(m) == 0 {
		t.Fatalf("no events/%s/%s*.json sample", fn, prefix)
	}
	sort.Strings(m)
	return m[0]
}

func TestEnvRef(t *testing.T) {
	tests := []struct {
		in   string
		name string
		ok   bool
	}{
		{"${env:BACKUPFLOW_NOTIFY}", "BACKUPFLOW_NOTIFY", true},
		{" ${env:X} ", "X", true},
		{"${env:}", "", false},
		{"prefix-${env:X}", "", false},
		{"${env:A}${env:B}", "", false},
		{"plain", "", false},
	}
	for _, tt := range tests {
		name, ok := EnvRef(tt.in)
		if name != tt.name || ok != tt.ok {
			t.Errorf("EnvRef(%q) = %q, %v; want %q, %v", tt.in, name, ok, tt.name, tt.ok)
		}
	}
}

func TestEnvResolvesReferences(t *testing.T) {
	s, err := ParseServerless([]byte(`inputs:
  environments:
    - {key: A, value: literal}
    - {key: B, value: '${env:B_SRC}'}
    - {key: C, value: '${env:UNSET}'}
  functions:
    f:
      environments:
        - {key: A, value: '${env:A_SRC}'}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.EnvWith("f", func(k string) string { return map[string]string{"A_SRC": "a", "B_SRC": "b"}[k] })
	want := map[string]string{"A": "a", "B": "b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvWith = %v, want %v", got, want)
	}
}

func TestParseSAMIntrinsics(t *testing.T) {
	s, err := ParseSAM([]byte(`Transform: AWS::Serverless-2016-10-31
Resources:
  Q: {Type: AWS::SQS::Queue}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {A: !Ref P, B: !Sub 'x-${Q.QueueName}', C: !GetAtt Q.Arn, D: {"Fn::GetAtt": [Q, Arn]}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := s.EnvKeys("F")
	for k, want := range map[string]string{"A": `{"Ref":"P"}`, "B": `{"Fn::Sub":"x-${Q.QueueName}"}`, "C": `{"Fn::GetAtt":"Q.Arn"}`,
		"D": `{"Fn::GetAtt":["Q","Arn"]}`} {
		if got, _ := json.Marshal(env[k]); string(got) != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if _, err := ParseSAM([]byte("Resources:\n  F: {Type: AWS::Serverless::Function, Properties: {X: !Bogus y}}\n")); err == nil {
		t.Error("unknown tag accepted")
	}
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSAMLint runs cfn-lint (which expands the SAM transform) when it is
// installed; CI without it skips.
func TestSAMLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil || testing.Short() {
		t.Skip("cfn-lint not installed")
	}
	cmd := exec.Command(lint, "template.yaml")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// TestNotifySettingsAgree: both descriptors deploy the same notification
// mode and heartbeat to every function, and the values parse: a summary
// sent on one platform and dropped on the other would be a surprise
// (BACKUPFLOW_NOTIFY_HEARTBEAT, issue 16 item 8).
func TestNotifySettingsAgree(t *testing.T) {
	s := loadServerless(t)
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	valid := map[string][]string{
		"BACKUPFLOW_NOTIFY_MODE":      {"all", "failures"},
		"BACKUPFLOW_NOTIFY_HEARTBEAT": {"true", "false"},
	}
	for _, fn := range functionDirs(t) {
		scf := s.Env(fn)
		aws := sam.EnvKeys(ids[fn])
		for _, k := range sortedKeys(valid) {
			got := map[string]string{"serverless.yml": scf[k]}
			switch v := aws[k].(type) {
			case string:
				got["template.yaml"] = v
			default:
				ref, _ := asMap(v)["Ref"].(string)
				d, _ := sam.Parameters[ref]["Default"].(string)
				got["template.yaml"] = d
			}
			for file, v := range got {
				if !slices.Contains(valid[k], v) {
					t.Errorf("%s %s: %s = %q; want one of %v", file, fn, k, v, valid[k])
				}
			}
			if got["serverless.yml"] != got["template.yaml"] {
				t.Errorf("%s: %s is %q in serverless.yml but %q in template.yaml", fn, k, got["serverless.yml"], got["template.yaml"])
			}
		}
	}
}
