package footprint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeCache writes a module cache holding a zip of size bytes per module.
func fakeCache(t *testing.T, zips map[Module]int) string {
	t.Helper()
	dir := t.TempDir()
	for m, size := range zips {
		p := zipPath(dir, m)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWeighSumsTheCachesZips(t *testing.T) {
	sdk := Module{"github.com/huaweicloud/huaweicloud-sdk-go-v3", "v0.1.207"}
	upper := Module{"github.com/BurntSushi/toml", "v1.0.0-RC1"} // stored as !burnt!sushi, v1.0.0-!r!c1
	dep := Module{"go.mongodb.org/mongo-driver", "v1.12.0"}
	gone := Module{"github.com/tjfoc/gmsm", "v1.4.1"}
	cache := fakeCache(t, map[Module]int{sdk: 4000, upper: 300, dep: 20})
	if _, err := os.Stat(filepath.Join(cache, "cache/download/github.com/!burnt!sushi/toml/@v/v1.0.0-!r!c1.zip")); err != nil {
		t.Fatalf("the fake cache is not laid out as the go command's: %v", err)
	}
	for _, tc := range []struct {
		name    string
		mods    []Module
		want    int64
		missing []string
	}{
		{"none", nil, 0, nil},
		{"one", []Module{sdk}, 4000, nil},
		{"upper-case path and version", []Module{upper}, 300, nil},
		{"several", []Module{sdk, upper, dep}, 4320, nil},
		{"a zip the cache lacks is named and left out", []Module{sdk, gone}, 4000, []string{"github.com/tjfoc/gmsm@v1.4.1"}},
		{"another version of a cached module is not it", []Module{{sdk.Path, "v0.1.215"}}, 0, []string{sdk.Path + "@v0.1.215"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := weigh("x", cache, tc.mods)
			if w.Download != tc.want || !slices.Equal(w.NotInCache, tc.missing) || len(w.Modules) != len(tc.mods) {
				t.Errorf("weigh = %d bytes, missing %v, %d modules; want %d, %v, %d", w.Download, w.NotInCache, len(w.Modules), tc.want, tc.missing, len(tc.mods))
			}
		})
	}
}

func TestAttribute(t *testing.T) {
	fams := []Family{
		{Name: "cos", Prefixes: []string{"github.com/tencentyun/cos-go-sdk-v5"}},
		{Name: "aws", Prefixes: []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"}},
		{Name: "lambda", Prefixes: []string{"github.com/aws/aws-lambda-go"}},
	}
	requiredBy := map[string][]string{
		"github.com/clbanning/mxj":       {"github.com/tencentyun/cos-go-sdk-v5"},
		"github.com/shared/dep":          {"github.com/tencentyun/cos-go-sdk-v5", "github.com/aws/smithy-go"},
		"gopkg.in/yaml.v3":               {"github.com/aws/aws-lambda-go", "github.com/stretchr/testify"},
		"github.com/deep/leaf":           {"github.com/middle/man"},
		"github.com/middle/man":          {"github.com/tencentyun/cos-go-sdk-v5"},
		"github.com/cycle/a":             {"github.com/cycle/b"},
		"github.com/cycle/b":             {"github.com/cycle/a"},
		"github.com/aws/aws-sdk-go-v2/x": {"github.com/aws/aws-sdk-go-v2"},
	}
	direct := map[string]bool{"gopkg.in/yaml.v3": true}
	for _, tc := range []struct {
		path, want string // want "" = other
	}{
		{"github.com/tencentyun/cos-go-sdk-v5", "cos"},
		{"github.com/aws/aws-sdk-go-v2/service/s3", "aws"}, // a sub-module by prefix
		{"github.com/aws/smithy-go", "aws"},
		{"github.com/aws/aws-sdk-go-v2-other", ""}, // a prefix is a path, not a string
		{"github.com/clbanning/mxj", "cos"},        // only cos requires it
		{"github.com/deep/leaf", "cos"},            // through a module of no family
		{"github.com/shared/dep", ""},              // two families require it
		{"gopkg.in/yaml.v3", ""},                   // the main module requires it itself
		{"github.com/cycle/a", ""},                 // no family at all, and a cycle
		{"github.com/nobody/requires", ""},
	} {
		by, other := attribute([]Module{{tc.path, "v1.0.0"}}, fams, requiredBy, direct)
		got := ""
		for f, ms := range by {
			if len(ms) > 0 {
				got = f
			}
		}
		if got != tc.want || (got == "") != (len(other) == 1) {
			t.Errorf("%s: family %q (other %v); want %q", tc.path, got, other, tc.want)
		}
	}
}

func TestModuleOf(t *testing.T) {
	paths := []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go-v2/service/s3", "gopkg.in/yaml.v3", "github.com/aws/smithy-go"}
	for _, tc := range []struct{ name, want string }{
		{"github.com/aws/aws-sdk-go-v2/service/s3.(*Client).PutObject", "github.com/aws/aws-sdk-go-v2/service/s3"},
		{"github.com/aws/aws-sdk-go-v2/service/s3/internal/endpoints", "github.com/aws/aws-sdk-go-v2/service/s3"},
		{"github.com/aws/aws-sdk-go-v2/aws/signer/v4.(*Signer).SignHTTP", "github.com/aws/aws-sdk-go-v2"},
		{"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go-v2"},
		{"gopkg.in/yaml.v3.(*parser).parse", "gopkg.in/yaml.v3"},
		{"github.com/aws/smithy-go-extra.F", ""},
		{"net/http.(*Client).Do", ""},
		{"type:.eq.github.com/aws/smithy-go.T", ""},
	} {
		if got := moduleOf(tc.name, paths); got != tc.want {
			t.Errorf("moduleOf(%q) = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseInittrace(t *testing.T) {
	trace := `init internal/bytealg @0.003 ms, 0 ms clock, 0 bytes, 0 allocs
init runtime @0.029 ms, 0.042 ms clock, 0 bytes, 0 allocs
init github.com/aws/aws-sdk-go-v2/service/s3/internal/endpoints @2.1 ms, 0.304 ms clock, 93472 bytes, 700 allocs
init github.com/aws/aws-sdk-go-v2/internal/v4a @2.5 ms, 0.053 ms clock, 3984 bytes, 30 allocs
init github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common @2.6 ms, 0.005 ms clock, 64 bytes, 1 allocs
2026/12/04 21:23:58 expected AWS Lambda environment variables [AWS_LAMBDA_RUNTIME_API] are not defined
init broken line
`
	paths := []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go-v2/service/s3", "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"}
	per, total := parseInittrace(strings.NewReader(trace), paths)
	us := func(x float64) time.Duration { return time.Duration(x * float64(time.Microsecond)) }
	if total != us(42+304+53+5) {
		t.Errorf("total = %s; want 404µs", total)
	}
	want := map[string]time.Duration{
		"github.com/aws/aws-sdk-go-v2/service/s3":                         us(304),
		"github.com/aws/aws-sdk-go-v2":                                    us(53),
		"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common": us(5),
	}
	for p, d := range want {
		if per[p] != d {
			t.Errorf("%s: %s; want %s", p, per[p], d)
		}
	}
}

// TestCodeByModule reads the symbol table of cmd/hello built unstripped,
// and refuses the stripped build the size figures use.
func TestCodeByModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/hello")
	}
	dir := t.TempDir()
	full, stripped := filepath.Join(dir, "full"), filepath.Join(dir, "stripped")
	if err := buildWith(t.Context(), "../..", "./cmd/hello", "scf", "amd64", full, []string{"-trimpath"}); err != nil {
		t.Fatal(err)
	}
	code, total, err := codeByModule(full, []string{"github.com/backupflow/backupflow"})
	if err != nil {
		t.Fatal(err)
	}
	ours := code["github.com/backupflow/backupflow"]
	if ours <= 0 || total <= ours {
		t.Errorf("our code %d of %d bytes; want some, and less than the whole", ours, total)
	}
	if err := build(t.Context(), "../..", "./cmd/hello", "scf", "amd64", stripped); err != nil {
		t.Fatal(err)
	}
	if _, _, err := codeByModule(stripped, nil); err == nil {
		t.Error("a stripped binary gave code sizes")
	}
}

// TestFamiliesAreRequired: each family names modules go.mod requires, and
// the baseline one interop/go.mod requires, so a renamed SDK cannot weigh
// nothing unnoticed.
func TestFamiliesAreRequired(t *testing.T) {
	for _, tc := range []struct {
		gomod string
		fams  []Family
	}{{"../../go.mod", Families}, {"../../interop/go.mod", []Family{Huawei}}} {
		b, err := os.ReadFile(tc.gomod)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tc.fams {
			found := false
			for line := range strings.Lines(string(b)) {
				if fs := strings.Fields(line); len(fs) >= 2 && f.owns(strings.TrimPrefix(fs[0], "require")) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s requires no module of %s (%v)", tc.gomod, f.Name, f.Prefixes)
			}
		}
	}
}

// TestWeighThisRepository runs the deployed measurement on this module,
// offline: the families are found in the binaries they belong to, an SDK's
// own dependencies go to it, and every figure is there.
func TestWeighThisRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds create-backup three times")
	}
	d, err := Weigh(t.Context(), Options{Root: "../.."})
	if err != nil {
		t.Fatal(err)
	}
	on := map[string][]string{
		"tencentcloud-sdk-go common": {}, // replaced by pkg/tencent's own TC3 signer
		"cos-go-sdk-v5":              {SCF},
		"aws-sdk-go-v2 + smithy-go":  {}, // replaced by pkg/sigv4
		"aws-lambda-go":              {AWS},
	}
	for _, f := range d.Families {
		if !slices.Equal(f.LinkedOn, on[f.Name]) {
			t.Errorf("%s linked on %v; want %v", f.Name, f.LinkedOn, on[f.Name])
		}
		if len(f.LinkedOn) > 0 && f.Download <= 0 && len(f.NotInCache) == 0 {
			t.Errorf("%s: no download and nothing missing from the cache", f.Name)
		}
		for _, plat := range f.LinkedOn {
			if f.Code[plat] <= 0 || f.Code[plat] >= d.CodeTotal[plat] {
				t.Errorf("%s on %s: %d bytes of code of %d", f.Name, plat, f.Code[plat], d.CodeTotal[plat])
			}
		}
		if f.Name == "cos-go-sdk-v5" && !slices.ContainsFunc(f.Modules, func(m string) bool { return strings.HasPrefix(m, "github.com/clbanning/mxj@") }) {
			t.Errorf("cos-go-sdk-v5's modules %v lack mxj, which only it requires", f.Modules)
		}
	}
	if len(d.Families) != len(Families) {
		t.Errorf("%d families weighed; want %d", len(d.Families), len(Families))
	}
	for _, m := range d.Other.Modules {
		if strings.HasPrefix(m, "github.com/clbanning/mxj@") {
			t.Errorf("mxj counted as ours: %v", d.Other.Modules)
		}
	}
	for _, plat := range []string{SCF, AWS} {
		if d.CodeTotal[plat] <= 0 || d.InitTotal[plat] <= 0 {
			t.Errorf("%s: code %d bytes, init %s", plat, d.CodeTotal[plat], d.InitTotal[plat])
		}
	}
	if len(d.CLI.Modules) == 0 {
		t.Errorf("the CLI needs no module? notes: %v", d.Notes)
	}
	if len(d.Baseline.Modules) == 0 {
		if !slices.ContainsFunc(d.Notes, func(n string) bool { return strings.Contains(n, "not in the module cache") }) {
			t.Errorf("no Huawei baseline and no note saying why: %v", d.Notes)
		}
	} else if !slices.ContainsFunc(d.Baseline.Modules, func(m string) bool { return strings.HasPrefix(m, Huawei.Prefixes[0]+"@") }) {
		t.Errorf("the baseline's modules %v lack the SDK itself", d.Baseline.Modules)
	}
	var out strings.Builder
	PrintDeps(&out, d)
	for _, want := range []string{"×huawei", "fresh clone, ./cmd/backupflow", "create-backup, whole"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}
