package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// status names the ledger it read, shows the job's times, and exits
// non-zero for a job the ledger does not know; a job id that is not one
// (a path) is a usage error with one clean line, in-process and from the
// built binary alike (issue 16 items 4 and 5).
func TestStatusAgainstEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	vars := startEmulatorCmd(t)
	code, out, errs := run(t, lookup(vars), "backup", "--instance", "cdb-c1nl9rpv", "--wait", "--timeout", "1m")
	if code != ExitOK {
		t.Fatalf("backup --wait = %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	id := jobIDOf(t, out)
	ledgerLine := "ledger " + vars["BACKUPFLOW_LEDGER"]

	code, out, errs = run(t, lookup(vars), "status", id)
	if code != ExitOK {
		t.Fatalf("status %s = %d\n%s%s", id, code, out, errs)
	}
	for _, want := range []string{ledgerLine, "(backup cdb-c1nl9rpv): succeeded", "created 20", "finished 20"} {
		if !strings.Contains(out, want) {
			t.Errorf("status %s lacks %q:\n%s", id, want, out)
		}
	}
	code, out, _ = run(t, lookup(vars), "status", "--instance", "cdb-c1nl9rpv")
	if code != ExitOK || !strings.Contains(out, ledgerLine) || !strings.Contains(out, id) {
		t.Errorf("status --instance = %d:\n%s", code, out)
	}

	code, out, errs = run(t, lookup(vars), "status", "jdoesnotexist")
	if code != ExitUsage || !strings.Contains(out+errs, "no job jdoesnotexist in "+vars["BACKUPFLOW_LEDGER"]) {
		t.Errorf("status of an unknown job = %d; want %d naming the ledger:\n%s%s", code, ExitUsage, out, errs)
	}
}

func TestStatusOfAPathIsUsage(t *testing.T) {
	env := lookup(map[string]string{"BACKUPFLOW_LEDGER": "mem://" + t.Name()})
	for _, arg := range []string{"../../etc", "jobs/x", "J-UPPER", ""} {
		code, out, errs := run(t, env, "status", arg)
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if code != ExitUsage || len(lines) != 1 || strings.Contains(errs, "ledger:") || out != "" {
			t.Errorf("status %q = %d\nstdout: %q\nstderr: %q\nwant %d and one line", arg, code, out, errs, ExitUsage)
		}
	}
	bin := builtCLI(t)
	cmd := exec.Command(bin, "status", "../../etc")
	cmd.Env = append(os.Environ(), "BACKUPFLOW_LEDGER=mem://x")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != ExitUsage {
		t.Errorf("built binary: status ../../etc exit %d; want %d\n%s", code, ExitUsage, out)
	}
}

// Without BACKUPFLOW_LEDGER, status reads the ledger of the local stack
// (`make run`) kept in its state folder, not an empty in-memory one.
func TestStatusDefaultsToLocalStackLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the local stack")
	}
	dir := t.TempDir()
	sls, err := filepath.Abs(filepath.Join("..", "..", "serverless.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// As in a checkout: serverless.yml beside the state folder.
	b, err := os.ReadFile(sls)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	ran := runLocalUntil(t, []string{"local", "--dir", ".backupflow", "--now", "--chat-listen", "off", "--view", "lines",
		"--job-duration", "1s"}, regexp.MustCompile(`(j[a-z0-9]+)\s+backup/timer\s+cdb-c1nl9rpv\s+succeeded`))
	m := regexp.MustCompile(`(j[a-z0-9]+)\s+backup/timer\s+cdb-c1nl9rpv\s+succeeded`).FindStringSubmatch(ran)
	if m == nil {
		t.Fatalf("no nightly job of cdb-c1nl9rpv in:\n%s", ran)
	}
	for _, args := range [][]string{{"status", m[1]}, {"status", "--instance", "cdb-c1nl9rpv"}} {
		code, out, errs := run(t, noEnv, args...)
		if code != ExitOK || !strings.Contains(out, m[1]+" (backup cdb-c1nl9rpv): succeeded") || !strings.Contains(out, "the local stack's") {
			t.Errorf("%v without BACKUPFLOW_LEDGER = %d\nstdout:\n%s\nstderr:\n%s\nthe stack printed:\n%s", args, code, out, errs, ran)
		}
	}
	// No local stack folder here: say what to set, not "No job is known".
	t.Chdir(t.TempDir())
	code, _, errs := run(t, noEnv, "status", "jdoesnotexist")
	if code != ExitConfig || !strings.Contains(errs, "BACKUPFLOW_LEDGER") {
		t.Errorf("status with no ledger anywhere = %d, %q; want %d naming BACKUPFLOW_LEDGER", code, errs, ExitConfig)
	}
}

// runLocalUntil runs `backupflow local` in this process until its output
// holds want, stops it as Ctrl-C does and returns what it printed.
func runLocalUntil(t *testing.T, args []string, want *regexp.Regexp) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, &out, &errb, noEnv) }()
	end := time.Now().Add(time.Minute)
	for !want.MatchString(out.String()) {
		if time.Now().After(end) {
			t.Fatalf("the stack printed no %q in a minute:\n%s\n%s", want, &out, &errb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("local ended %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
	}
	return out.String()
}
