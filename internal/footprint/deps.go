package footprint

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The weight of the dependencies (issue 20 item 5), taken offline: what a
// fresh clone downloads is read from the module cache's zips, the modules
// linked from the built binaries' build info, code size from their symbol
// tables and init time from GODEBUG=inittrace=1. Nothing is fetched: the
// go commands run with GOPROXY=off, and a module whose zip the cache lacks
// is named, not guessed.

// Family is one cloud SDK as we link it: the modules whose paths start with
// one of Prefixes, and the modules that only they require.
type Family struct {
	Name     string
	Prefixes []string
}

// Families are the cloud SDKs the functions link, and aws-sdk-go-v2 and
// tencentcloud-sdk-go's common client, which they linked until pkg/sigv4
// and pkg/tencent's TC3 signer replaced them (issue 20 items 4, 5 and 6):
// their rows of zeros show they stay out.
var Families = []Family{
	{Name: "tencentcloud-sdk-go common", Prefixes: []string{"github.com/tencentcloud/tencentcloud-sdk-go"}},
	{Name: "cos-go-sdk-v5", Prefixes: []string{"github.com/tencentyun/cos-go-sdk-v5"}},
	{Name: "aws-sdk-go-v2 + smithy-go", Prefixes: []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"}},
	{Name: "aws-lambda-go", Prefixes: []string{"github.com/aws/aws-lambda-go"}},
}

// Huawei is issue 20's baseline: the SDK the product no longer links and
// interop/ still requires, with what the packages interop imports need.
var Huawei = Family{Name: "huaweicloud-sdk-go-v3", Prefixes: []string{"github.com/huaweicloud/huaweicloud-sdk-go-v3"}}

func (f Family) owns(path string) bool {
	for _, p := range f.Prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// Module is one module version of a build list.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

func (m Module) String() string { return m.Path + "@" + m.Version }

// Weight is what one family (or a whole build list) costs.
type Weight struct {
	Name    string   `json:"name"`
	Modules []string `json:"modules"` // path@version
	// Download sums the modules' zips as the module cache holds them (the
	// bytes the proxy serves); NotInCache names the ones it lacks, which the
	// sum leaves out.
	Download   int64    `json:"downloadBytes"`
	NotInCache []string `json:"notInCache,omitempty"`
	// Code is the size of the family's text symbols in create-backup, and
	// Init its packages' init time per start (median), per platform.
	Code map[string]int64         `json:"codeBytes,omitempty"`
	Init map[string]time.Duration `json:"initNs,omitempty"`
	// LinkedOn names the platforms whose create-backup links the family.
	LinkedOn []string `json:"linkedOn"`
}

// Deps is the dependency-weight report.
type Deps struct {
	Cache    string   `json:"moduleCache"`
	Baseline Weight   `json:"baseline"` // Huawei; Err says why it is missing
	Families []Weight `json:"families"`
	// Other holds the linked modules in no family (ours, e.g. yaml.v3).
	Other Weight `json:"other"`
	// CLI is what a fresh clone downloads to build ./cmd/backupflow, which
	// is what make demo runs.
	CLI Weight `json:"cli"`
	// CodeTotal and InitTotal are create-backup's whole text and init per
	// platform, the figures the families' shares are of.
	CodeTotal map[string]int64         `json:"codeTotalBytes"`
	InitTotal map[string]time.Duration `json:"initTotalNs"`
	Notes     []string                 `json:"notes,omitempty"`
}

// escapePath is the module cache's case encoding: each upper-case letter
// becomes '!' and its lower case (golang.org/x/mod/module.EscapePath).
func escapePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// zipPath is where the module cache keeps m's zip.
func zipPath(cache string, m Module) string {
	return filepath.Join(cache, "cache", "download", escapePath(m.Path), "@v", escapePath(m.Version)+".zip")
}

// weigh sums the zips of mods in the module cache.
func weigh(name, cache string, mods []Module) Weight {
	w := Weight{Name: name, Modules: []string{}}
	for _, m := range mods {
		w.Modules = append(w.Modules, m.String())
		st, err := os.Stat(zipPath(cache, m))
		if err != nil {
			w.NotInCache = append(w.NotInCache, m.String())
			continue
		}
		w.Download += st.Size()
	}
	return w
}

// attribute splits a build list into the families and the rest. A module
// no family owns goes to the one family whose modules are the only ones
// requiring it (cos-go-sdk-v5's mxj), unless the main module requires it
// itself (yaml.v3, also required by aws-lambda-go); requiredBy maps a
// module path to the paths that require it (go mod graph).
func attribute(mods []Module, fams []Family, requiredBy map[string][]string, direct map[string]bool) (map[string][]Module, []Module) {
	owner := func(path string) string {
		for _, f := range fams {
			if f.owns(path) {
				return f.Name
			}
		}
		return ""
	}
	out := map[string][]Module{}
	var other []Module
	for _, m := range mods {
		if f := owner(m.Path); f != "" {
			out[f] = append(out[f], m)
			continue
		}
		if direct[m.Path] {
			other = append(other, m)
			continue
		}
		// Walk up the requirers: a family's module ends a branch; a module
		// of no family passes the walk on to its own requirers.
		found := map[string]bool{}
		seen := map[string]bool{m.Path: true}
		queue := slices.Clone(requiredBy[m.Path])
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if seen[p] {
				continue
			}
			seen[p] = true
			if f := owner(p); f != "" {
				found[f] = true
				continue
			}
			queue = append(queue, requiredBy[p]...)
		}
		if len(found) == 1 {
			for f := range found {
				out[f] = append(out[f], m)
			}
			continue
		}
		other = append(other, m)
	}
	return out, other
}

// moduleOf is the longest module path that prefixes name as a package
// path ("path" or "path/…") or as a symbol ("path.Func", "path/sub.Func").
func moduleOf(name string, paths []string) string {
	best := ""
	for _, p := range paths {
		if len(p) <= len(best) || !strings.HasPrefix(name, p) {
			continue
		}
		if rest := name[len(p):]; rest == "" || rest[0] == '.' || rest[0] == '/' {
			best = p
		}
	}
	return best
}

// codeByModule sums the sizes of an unstripped binary's text symbols per
// module (paths); the total is every text symbol, the standard library's
// and the runtime's included.
func codeByModule(bin string, paths []string) (map[string]int64, int64, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", filepath.Base(bin), err)
	}
	out := map[string]int64{}
	var total int64
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC {
			continue
		}
		total += int64(s.Size)
		if m := moduleOf(s.Name, paths); m != "" {
			out[m] += int64(s.Size)
		}
	}
	return out, total, nil
}

// parseInittrace sums one start's "init <pkg> @… ms, <clock> ms clock, …"
// lines per module (paths); the total is every package's.
func parseInittrace(r io.Reader, paths []string) (map[string]time.Duration, time.Duration) {
	out := map[string]time.Duration{}
	var total time.Duration
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		d := time.Duration(ms * float64(time.Millisecond))
		total += d
		if m := moduleOf(f[1], paths); m != "" {
			out[m] += d
		}
	}
	return out, total
}

// goCmd runs the go command offline in dir.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// listModules is the modules (not the main one) providing pkgs and their
// dependencies: what `go build` of pkgs needs from a fresh module cache.
func listModules(ctx context.Context, dir string, pkgs ...string) ([]Module, error) {
	args := append([]string{"list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}"}, pkgs...)
	out, err := goCmd(ctx, dir, args...)
	if err != nil {
		return nil, err
	}
	return parseModuleLines(out), nil
}

func parseModuleLines(out []byte) []Module {
	seen := map[Module]bool{}
	var mods []Module
	for line := range strings.Lines(string(out)) {
		p, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if m := (Module{p, v}); ok && !seen[m] {
			seen[m] = true
			mods = append(mods, m)
		}
	}
	slices.SortFunc(mods, func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	return mods
}

// linkedModules reads a binary's build info: the modules it links.
func linkedModules(bin string) ([]Module, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var mods []Module
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		mods = append(mods, Module{d.Path, d.Version})
	}
	return mods, nil
}

// graph reads `go mod graph` (requirer → required, versions dropped) and
// the main module's direct requirements from go.mod.
func graph(ctx context.Context, root string) (map[string][]string, map[string]bool, error) {
	out, err := goCmd(ctx, root, "mod", "graph")
	if err != nil {
		return nil, nil, err
	}
	requiredBy := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		from, _, _ = strings.Cut(from, "@")
		to, _, _ = strings.Cut(to, "@")
		if !slices.Contains(requiredBy[to], from) {
			requiredBy[to] = append(requiredBy[to], from)
		}
	}
	js, err := goCmd(ctx, root, "mod", "edit", "-json")
	if err != nil {
		return nil, nil, err
	}
	var gm struct {
		Module  struct{ Path string }
		Require []struct {
			Path     string
			Indirect bool
		}
	}
	if err := json.Unmarshal(js, &gm); err != nil {
		return nil, nil, fmt.Errorf("go mod edit -json: %w", err)
	}
	direct := map[string]bool{}
	for _, r := range gm.Require {
		if !r.Indirect {
			direct[r.Path] = true
		}
	}
	// The main module's own edges say nothing about who else needs a module.
	for to, froms := range requiredBy {
		requiredBy[to] = slices.DeleteFunc(froms, func(p string) bool { return p == gm.Module.Path })
	}
	return requiredBy, direct, nil
}

// huaweiPackages are the SDK packages interop/ imports (its tests are the
// only code that still uses the SDK).
func huaweiPackages(ctx context.Context, interop string) ([]string, error) {
	out, err := goCmd(ctx, interop, "list", "-f", "{{join .Imports \"\\n\"}}\n{{join .TestImports \"\\n\"}}\n{{join .XTestImports \"\\n\"}}", "./...")
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for line := range strings.Lines(string(out)) {
		if p := strings.TrimSpace(line); Huawei.owns(p) && !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("interop/ imports no package of %s", Huawei.Prefixes[0])
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

// initRuns is how many starts each init figure is the median of.
const initRuns = 11

// Weigh measures the dependencies. It builds create-backup unstripped for
// each platform's deployed architecture (code sizes) and for this host
// (init times), and runs the go command offline for the build lists.
func Weigh(ctx context.Context, o Options) (Deps, error) {
	if o.Root == "" {
		o.Root = "."
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	d := Deps{CodeTotal: map[string]int64{}, InitTotal: map[string]time.Duration{}}
	out, err := goCmd(ctx, o.Root, "env", "GOMODCACHE")
	if err != nil {
		return d, err
	}
	d.Cache = strings.TrimSpace(string(out))
	fmt.Fprintf(o.Log, "footprint: dependencies: module cache %s\n", d.Cache)
	requiredBy, direct, err := graph(ctx, o.Root)
	if err != nil {
		d.Notes = append(d.Notes, "modules are given to families by path only (no module graph): "+err.Error())
	}
	d.CLI = Weight{Name: "./cmd/backupflow", Modules: []string{}}
	if cli, err := listModules(ctx, o.Root, "./cmd/backupflow"); err != nil {
		d.Notes = append(d.Notes, "fresh-clone download not measured: "+err.Error())
	} else {
		d.CLI = weigh(d.CLI.Name, d.Cache, cli)
	}

	d.Baseline = Weight{Name: Huawei.Name + " (interop)", Modules: []string{}, LinkedOn: []string{}}
	interop := filepath.Join(o.Root, "interop")
	if pkgs, err := huaweiPackages(ctx, interop); err != nil {
		d.Notes = append(d.Notes, "Huawei baseline not measured: "+err.Error())
	} else if mods, err := listModules(ctx, interop, pkgs...); err != nil {
		// GOPROXY=off: a module the cache lacks fails the listing.
		d.Notes = append(d.Notes, "Huawei baseline: not in the module cache ("+err.Error()+"); `cd interop && go mod download` fetches it")
	} else {
		d.Baseline = weigh(d.Baseline.Name, d.Cache, mods)
	}

	dir, err := os.MkdirTemp("", "backupflow-deps-")
	if err != nil {
		return d, err
	}
	defer os.RemoveAll(dir)
	linked := map[Module]bool{}
	linkedOn := map[string]map[string]bool{} // platform → module path
	perPlat := map[string]struct {
		code  map[string]int64
		inits []map[string]time.Duration // one per start
	}{}
	for _, plat := range []string{SCF, AWS} {
		unstripped := []string{"-trimpath", "-buildvcs=false"}
		dep := filepath.Join(dir, plat+"-"+deployedArch[plat])
		if err := buildWith(ctx, o.Root, "./functions/create-backup", platformTags[plat], deployedArch[plat], dep, unstripped); err != nil {
			return d, err
		}
		mods, err := linkedModules(dep)
		if err != nil {
			return d, err
		}
		var paths []string
		linkedOn[plat] = map[string]bool{}
		for _, m := range mods {
			linked[m] = true
			linkedOn[plat][m.Path] = true
			paths = append(paths, m.Path)
		}
		code, total, err := codeByModule(dep, paths)
		if err != nil {
			return d, err
		}
		d.CodeTotal[plat] = total
		host := dep
		if runtime.GOARCH != deployedArch[plat] {
			host = filepath.Join(dir, plat+"-host")
			if err := build(ctx, o.Root, "./functions/create-backup", platformTags[plat], runtime.GOARCH, host); err != nil {
				return d, err
			}
		}
		inits, total2, err := initTimes(ctx, host, paths)
		if err != nil {
			return d, err
		}
		d.InitTotal[plat] = total2
		perPlat[plat] = struct {
			code  map[string]int64
			inits []map[string]time.Duration
		}{code, inits}
	}
	var mods []Module
	for m := range linked {
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b Module) int { return strings.Compare(a.String(), b.String()) })
	byFam, other := attribute(mods, Families, requiredBy, direct)
	fill := func(w *Weight, ms []Module) {
		w.Code, w.Init, w.LinkedOn = map[string]int64{}, map[string]time.Duration{}, []string{}
		for _, plat := range []string{SCF, AWS} {
			if slices.ContainsFunc(ms, func(m Module) bool { return linkedOn[plat][m.Path] }) {
				w.LinkedOn = append(w.LinkedOn, plat)
			}
		}
		for plat, pp := range perPlat {
			// The init figure is the median of the family's per-start sums.
			var sums []time.Duration
			for _, run := range pp.inits {
				var sum time.Duration
				for _, m := range ms {
					sum += run[m.Path]
				}
				sums = append(sums, sum)
			}
			for _, m := range ms {
				w.Code[plat] += pp.code[m.Path]
			}
			w.Init[plat] = median(sums)
		}
	}
	for _, f := range Families {
		w := weigh(f.Name, d.Cache, byFam[f.Name])
		fill(&w, byFam[f.Name])
		d.Families = append(d.Families, w)
	}
	d.Other = weigh("other linked modules", d.Cache, other)
	fill(&d.Other, other)
	return d, nil
}

// initTimes starts bin initRuns times with GODEBUG=inittrace=1 and nothing
// else in its environment (it exits at once, finding no runtime to serve),
// and returns each start's init time per module and the median of the whole.
func initTimes(ctx context.Context, bin string, paths []string) ([]map[string]time.Duration, time.Duration, error) {
	var runs []map[string]time.Duration
	var totals []time.Duration
	for range initRuns {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cmd := exec.CommandContext(cctx, bin)
		cmd.Env = []string{"GODEBUG=inittrace=1"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // it exits non-zero: no runtime to serve
		cancel()
		per, total := parseInittrace(&stderr, paths)
		if total == 0 {
			return nil, 0, fmt.Errorf("%s printed no init trace", filepath.Base(bin))
		}
		runs = append(runs, per)
		totals = append(totals, total)
	}
	return runs, median(totals), nil
}

// PrintDeps writes the dependency table: each family's download beside the
// Huawei SDK's, and its code and init share of create-backup per platform.
func PrintDeps(w io.Writer, d Deps) {
	fmt.Fprintf(w, "\ndependencies (offline; download = module zips in %s;\n", filepath.Join(d.Cache, "cache", "download"))
	fmt.Fprintf(w, "code = text symbols of create-backup as deployed, init = its GODEBUG=inittrace=1 on this host, median of %d starts;\n", initRuns)
	fmt.Fprintf(w, "(%%) = share of create-backup's whole)\n")
	const head = "%-36s %4s %9s %8s %15s %15s %15s %15s\n"
	fmt.Fprintf(w, head, "SDK", "mods", "download", "×huawei", "scf code", "aws code", "scf init", "aws init")
	base := float64(d.Baseline.Download)
	row := func(x Weight) {
		name := x.Name
		if len(x.NotInCache) > 0 {
			name += " *"
		}
		cells := []string{}
		for _, plat := range []string{SCF, AWS} {
			if !slices.Contains(x.LinkedOn, plat) {
				cells = append(cells, "not linked")
				continue
			}
			cells = append(cells, mbDec(x.Code[plat])+" "+pct(float64(x.Code[plat]), float64(d.CodeTotal[plat])))
		}
		for _, plat := range []string{SCF, AWS} {
			if !slices.Contains(x.LinkedOn, plat) {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, ms(x.Init[plat])+" "+pct(float64(x.Init[plat]), float64(d.InitTotal[plat])))
		}
		fmt.Fprintf(w, "%-36s %4d %9s %8s %15s %15s %15s %15s\n", name, len(x.Modules), mbDec(x.Download),
			ratio3(float64(x.Download), base), cells[0], cells[1], cells[2], cells[3])
	}
	if len(d.Baseline.Modules) > 0 {
		row(d.Baseline)
	} else {
		fmt.Fprintf(w, "%-36s %s\n", d.Baseline.Name, "not in the module cache")
	}
	for _, f := range d.Families {
		row(f)
	}
	if len(d.Other.Modules) > 0 {
		row(d.Other)
	}
	fmt.Fprintf(w, head, "create-backup, whole", "", "", "",
		mbDec(d.CodeTotal[SCF]), mbDec(d.CodeTotal[AWS]), ms(d.InitTotal[SCF]), ms(d.InitTotal[AWS]))
	fmt.Fprintf(w, "fresh clone, ./cmd/backupflow (what make demo runs): %d modules, %s of zips, %s the Huawei SDK's %s\n",
		len(d.CLI.Modules), mbDec(d.CLI.Download), ratio3(float64(d.CLI.Download), base), mbDec(d.Baseline.Download))
	for _, x := range append([]Weight{d.Baseline, d.CLI, d.Other}, d.Families...) {
		if len(x.NotInCache) > 0 {
			fmt.Fprintf(w, "* %s: not in the module cache, left out of the sum: %s\n", x.Name, strings.Join(x.NotInCache, ", "))
		}
	}
	for _, n := range d.Notes {
		fmt.Fprintln(w, n)
	}
}

// ratio3 is ratio with three decimals: an SDK can be a few thousandths of
// the baseline.
func ratio3(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f×", a/b)
}

// mbDec formats bytes in decimal megabytes, as zip sizes are usually quoted.
func mbDec(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/1e6) }

// ms keeps microseconds: a small SDK's init is a few of them.
func ms(d time.Duration) string { return d.Round(time.Microsecond).String() }

func pct(a, b float64) string {
	if b == 0 {
		return "(-)"
	}
	return fmt.Sprintf("(%.0f%%)", 100*a/b)
}
