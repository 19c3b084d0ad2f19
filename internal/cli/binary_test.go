package cli

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// builtCLI builds cmd/backupflow as a user does (go build in the checkout,
// so the VCS revision is stamped) once per test binary.
func builtCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "backupflow-cli-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "backupflow")
		// As make cli does: stamped whatever GOFLAGS says.
		cmd := exec.Command("go", "build", "-buildvcs=auto", "-o", binPath, "./cmd/backupflow")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = &exec.Error{Name: "go build: " + string(out), Err: err}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestVersionFromBuildInfo(t *testing.T) {
	bin := builtCLI(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	rev, err := exec.Command("git", "-C", filepath.Join("..", ".."), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to compare with: %v", err)
	}
	want := "revision " + strings.TrimSpace(string(rev))
	// cmd/go stamps a clone, not a git worktree (whose .git is a file).
	if fi, err := os.Stat(filepath.Join("..", "..", ".git")); err == nil && !fi.IsDir() {
		want = "revision unknown"
	}
	if !strings.HasPrefix(string(out), "backupflow github.com/backupflow/backupflow ") || !strings.Contains(string(out), want) {
		t.Errorf("--version = %q; want the module path and %q", out, want)
	}
	// Under go test there is no VCS stamp: the version says so instead of
	// printing an empty revision.
	code, stdout, _ := run(t, noEnv, "--version")
	if code != ExitOK || !strings.Contains(stdout, "revision unknown") {
		t.Errorf("in-process --version = %d %q", code, stdout)
	}
}

// Every command's --help renders each flag as "-name [type]": a backquoted
// word in a flag's usage would become its argument name ("-dist make build").
func TestHelpRendersFlags(t *testing.T) {
	line := regexp.MustCompile(`^  -[a-z][a-z-]*( [a-zA-Z]+)?$`)
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			code, out, errs := run(t, noEnv, name, "--help")
			if code != ExitOK {
				t.Fatalf("%s --help = %d", name, code)
			}
			_, flags, _ := strings.Cut(out+errs, "\nflags:\n")
			sc := bufio.NewScanner(strings.NewReader(flags))
			n := 0
			for sc.Scan() {
				l := sc.Text()
				if strings.HasPrefix(l, "  -") {
					n++
					if !line.MatchString(l) {
						t.Errorf("%s --help: flag line %q", name, l)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s --help shows no flags:\n%s%s", name, out, errs)
			}
		})
	}
}

// syncBuffer is written by a running command and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls f until it is true or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !f() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Ctrl-C ends the long-running commands of the built binary cleanly: exit
// 0, so `make run` does not report "Error 1".
func TestInterruptIsCleanExit(t *testing.T) {
	bin := builtCLI(t)
	for _, tc := range []struct {
		args  []string
		ready string
	}{
		{[]string{"emulator", "--listen", "127.0.0.1:0"}, "export BACKUPFLOW_TENCENT_ENDPOINT="},
		{[]string{"local", "--dir", t.TempDir(), "--chat-listen", "127.0.0.1:0", "--view", "lines",
			"--serverless", filepath.Join("..", "..", "serverless.yml")}, "Ctrl-C to stop"},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			var out, errb syncBuffer
			cmd := exec.CommandContext(context.Background(), bin, tc.args...)
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitFor(t, 30*time.Second, tc.ready, func() bool { return strings.Contains(out.String(), tc.ready) })
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != ExitOK {
				t.Errorf("%v after SIGINT: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", tc.args, code, err, &out, &errb)
			}
		})
	}
}
