package cli

import (
	"bufio"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startEmulatorCmd runs `backupflow emulator` in this process, on a free
// port, and returns the variables of the export block it prints, parsed as
// a shell would read them.
func startEmulatorCmd(t *testing.T, extra ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	args := append([]string{"--log-level", "warn", "emulator", "--listen", "127.0.0.1:0", "--job-duration", "1s"}, extra...)
	go func() { done <- Run(ctx, args, &out, &errb, noEnv) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("emulator ended %d: %s", code, &errb)
		}
	})
	waitFor(t, 10*time.Second, "the export block", func() bool { return strings.Contains(out.String(), "export TENCENTCLOUD_SECRET_KEY=") })
	vars := map[string]string{}
	line := regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)=(.*)$`)
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v := m[2]
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
		}
		vars[m[1]] = v
	}
	return vars
}

func lookup(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var queuedLine = regexp.MustCompile(`job ([a-z0-9-]+): \S+ \S+ queued`)

// The operator recipe of docs/operations.md (run as written by
// TestDocumentedCommands, ops-emulator-recipe) needs no Huawei credentials
// for a Tencent instance: with the export block less its HUAWEICLOUD_
// lines, backup --wait and status, in separate Runs sharing only the
// environment, still work (issue 16 item 1: a product's credentials are
// needed only when it is used).
func TestEmulatorExportsRunTheRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	vars := startEmulatorCmd(t)
	for _, k := range []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "BACKUPFLOW_TENCENT_ENDPOINT", "BACKUPFLOW_COS_ENDPOINT", "BACKUPFLOW_LEDGER"} {
		if vars[k] == "" {
			t.Errorf("export block lacks %s: %v", k, vars)
		}
	}
	tencentOnly := map[string]string{}
	for k, v := range vars {
		if !strings.HasPrefix(k, "HUAWEICLOUD_") {
			tencentOnly[k] = v
		}
	}
	code, out, errs := run(t, lookup(tencentOnly), "backup", "--instance", "cdb-c1nl9rpv", "--wait", "--timeout", "1m")
	if code != ExitOK {
		t.Fatalf("backup --wait = %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	m := queuedLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no job id in:\n%s", out)
	}
	code, out, errs = run(t, lookup(tencentOnly), "status", m[1])
	if code != ExitOK || !strings.Contains(out, "succeeded") {
		t.Errorf("status %s = %d\nstdout:\n%s\nstderr:\n%s", m[1], code, out, errs)
	}
}
