// Package interop_test drives backupflow's real binaries and handlers with
// implementations of the other side that nobody here wrote: the AWS Lambda
// Runtime Interface Emulator, slack-go, silenceper/wechat, the AWS SDK. Every
// case is recorded in one table (client, case, result), printed at the end;
// any FAIL fails the run. A case that fails because a fix has not landed yet
// is declared with the issue that tracks it and printed as XFAIL, never
// skipped in silence (README.md lists them).
package interop_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
)

// Result of one case.
type row struct{ client, name, result, detail string }

var (
	rowsMu sync.Mutex
	rows   []row
	bin    string // built binaries
)

// xfail names, per case, the issue whose fix the case waits for. A listed
// case that passes prints XPASS (and does not fail the run) so that the list
// is pruned when the fix lands.
var xfail = map[string]string{}

// R collects a case's failures instead of stopping the test, so that an
// expected failure can be told from an unexpected one.
type R struct {
	t    *testing.T
	errs []string
}

func (r *R) Errorf(format string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(format, a...)) }

// check runs one case as a subtest and records it in the table.
func check(t *testing.T, client, name string, body func(r *R)) {
	t.Helper()
	t.Run(client+"/"+name, func(t *testing.T) {
		r := &R{t: t}
		body(r)
		res, detail := "PASS", ""
		issue, expected := xfail[client+"/"+name]
		switch {
		case len(r.errs) > 0 && expected:
			res, detail = "XFAIL", "issue "+issue+": "+r.errs[0]
			t.Logf("XFAIL (issue %s): %s", issue, strings.Join(r.errs, "; "))
		case len(r.errs) > 0:
			res, detail = "FAIL", r.errs[0]
			for _, e := range r.errs {
				t.Error(e)
			}
		case expected:
			res, detail = "XPASS", "issue "+issue+" fixed: remove it from xfail"
		}
		rowsMu.Lock()
		rows = append(rows, row{client, name, res, detail})
		rowsMu.Unlock()
	})
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "backupflow-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "interop: build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	printTable()
	os.RemoveAll(dir)
	os.Exit(code)
}

func printTable() {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].client < rows[j].client })
	w := [3]int{len("CLIENT"), len("CASE"), len("RESULT")}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len(r.client)), max(w[1], len(r.name)), max(w[2], len(r.result))
	}
	count := map[string]int{}
	fmt.Printf("\n%-*s  %-*s  %-*s  %s\n", w[0], "CLIENT", w[1], "CASE", w[2], "RESULT", "DETAIL")
	for _, r := range rows {
		d := r.detail
		if len(d) > 160 {
			d = d[:160] + "…"
		}
		fmt.Printf("%-*s  %-*s  %-*s  %s\n", w[0], r.client, w[1], r.name, w[2], r.result, d)
		count[r.result]++
	}
	fmt.Printf("interop: %d passed, %d failed, %d xfail, %d xpass\n", count["PASS"], count["FAIL"], count["XFAIL"], count["XPASS"])
}

// buildAll builds the CLI (for `backupflow emulator`), every Lambda bootstrap
// for the host architecture, and the Runtime Interface Emulator from the
// version pinned in go.mod.
func buildAll(dir string) error {
	jobs := [][]string{
		{"-o", filepath.Join(dir, "backupflow"), "./cmd/backupflow"},
		{"-o", filepath.Join(dir, "aws-lambda-rie"), "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"},
	}
	for _, fn := range functionNames {
		jobs = append(jobs, []string{"-tags", "lambda.norpc", "-o", filepath.Join(dir, fn, "bootstrap"),
			"./functions/" + fn})
	}
	for _, j := range jobs {
		cmd := exec.Command("go", append([]string{"build", "-trimpath"}, j...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		// The product's binaries build in the product's module, with its
		// go.mod's versions, exactly as deployed; only the RIE builds here.
		if strings.HasPrefix(j[len(j)-1], "./") {
			cmd.Dir = ".."
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", strings.Join(j, " "), err, out)
		}
	}
	return nil
}

var functionNames = []string{"create-backup", "start-migration", "poll-status", "chatops"}

// emu is a running `backupflow emulator` process.
type emu struct {
	URL string
	env map[string]string
	cmd *exec.Cmd
}

// startEmulator runs the emulator binary on a free port. Its variables come
// from emulator.Env, the one place that knows them; the process serves the
// default credentials that Env hands out.
func startEmulator(t *testing.T, args ...string) *emu {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "backupflow"), append([]string{"emulator", "--listen", "127.0.0.1:0", "--job-duration", "1s"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urlc <- strings.TrimSpace(u)
			}
		}
	}()
	var url string
	select {
	case url = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatal("emulator did not start")
	}
	ref, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &emu{URL: url, env: ref.Env(url), cmd: cmd}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
