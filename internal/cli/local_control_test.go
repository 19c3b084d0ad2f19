package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/local"
)

// startLocal starts the built binary's `local` on dir and waits until it
// is ready; the returned stop interrupts it and returns its exit code.
func startLocal(t *testing.T, bin, dir string) (cmd *exec.Cmd, out *syncBuffer, stop func() int) {
	t.Helper()
	out = &syncBuffer{}
	errb := &syncBuffer{}
	cmd = exec.Command(bin, "local", "--dir", dir, "--chat-listen", "127.0.0.1:0", "--view", "lines",
		"--job-duration", "1s", "--serverless", filepath.Join("..", "..", "serverless.yml"))
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, 30*time.Second, "the stack to start", func() bool { return strings.Contains(out.String(), "Ctrl-C to stop") })
	return cmd, out, func() int {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != ExitOK {
			t.Errorf("local after SIGINT: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
		}
		return cmd.ProcessState.ExitCode()
	}
}

func runBin(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e syncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// A running stack takes commands from a second terminal, and a second
// stack on the same folder is refused instead of resetting the ledger under
// the first (issue 16 item 3).
func TestLocalTriggerAndLock(t *testing.T) {
	bin := builtCLI(t)
	dir := t.TempDir()
	first, out, stop := startLocal(t, bin, dir)

	code, stdout, stderr := runBin(t, bin, "local", "trigger", "--dir", dir, "nightly")
	if code != ExitOK || !strings.Contains(stdout, "nightly fired: 9 queued, 3 skipped") {
		t.Errorf("local trigger nightly: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	waitFor(t, 30*time.Second, "the stack to report the run", func() bool {
		return strings.Contains(out.String(), "nightly fired: 9 queued, 3 skipped")
	})
	waitFor(t, 30*time.Second, "the triggered jobs in the stack's view", func() bool {
		return strings.Count(out.String(), " succeeded ") >= 8
	})

	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"local", "trigger", "--dir", dir, "no-such-timer"}, ExitUsage, "drain-work"},
		{[]string{"local", "trigger", "--dir", dir}, ExitUsage, "want one timer name"},
		{[]string{"local", "trigger", "--dir", t.TempDir(), "nightly"}, ExitRuntime, "no backupflow local is running"},
		{[]string{"local", "--dir", dir, "--chat-listen", "127.0.0.1:0", "--serverless", filepath.Join("..", "..", "serverless.yml")},
			ExitConfig, "pid " + strconv.Itoa(first.Process.Pid)},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			code, stdout, stderr := runBin(t, bin, tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.say) {
				t.Errorf("%v: exit %d, want %d saying %q\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, tc.say, stdout, stderr)
			}
		})
	}
	// The refused stack left the first one's ledger alone.
	ledger := filepath.Join(dir, "cos", "backups-1250000000", "backupflow-ledger", "jobs")
	if ents, err := os.ReadDir(ledger); err != nil || len(ents) < 9 {
		t.Errorf("ledger %s after the refused start: %d jobs (%v); want the 9 of the run", ledger, len(ents), err)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, local.LockFile)); !os.IsNotExist(err) {
		t.Errorf("lock file after a clean stop: %v; want it removed", err)
	}
}

// A lock left by a process that is gone does not keep a new stack out.
func TestLocalStaleLockTakenOver(t *testing.T) {
	bin := builtCLI(t)
	dir := t.TempDir()
	gone := exec.Command(bin, "--version")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"pid": gone.Process.Pid, "control": "http://127.0.0.1:1", "token": "stale"})
	if err := os.WriteFile(filepath.Join(dir, local.LockFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, stop := startLocal(t, bin, dir)
	code, stdout, stderr := runBin(t, bin, "local", "trigger", "--dir", dir, "drain-work")
	if code != ExitOK {
		t.Errorf("trigger after the takeover: exit %d\n%s%s", code, stdout, stderr)
	}
	stop()
}

// `make run ARGS=...` hands the flags to the stack (issue 16 item 3).
func TestMakeRunPassesArgs(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	out, err := exec.Command("make", "-n", "-C", filepath.Join("..", ".."), "run", "ARGS=--now --view lines").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "bin/backupflow local --now --view lines") {
		t.Errorf("make run ARGS=... does not pass them on:\n%s", out)
	}
}
