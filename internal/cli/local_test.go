package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestLocalDemo runs `backupflow local --demo` in this process.
func TestLocalDemo(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"local", "--demo", "--dir", t.TempDir(), "--serverless", "../../serverless.yml",
		"--job-duration", "1s", "--tick", "500ms"}, &out, &errb, noEnv)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
	}
	if !strings.Contains(out.String(), "DEMO PASSED") || strings.Contains(out.String(), "FAIL") {
		t.Errorf("verdict:\n%s", &out)
	}
}

func TestLocalUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"local", "--help"}, ExitOK, "usage: backupflow local"},
		{[]string{"help", "local"}, ExitOK, "--demo"},
		{[]string{"local", "--queue", "kafka://x"}, ExitUsage, "--queue must be cmq or mem://"},
		{[]string{"local", "stray"}, ExitUsage, "unexpected argument"},
		{[]string{"local", "--serverless", "no-such-serverless.yml"}, ExitConfig, "--serverless PATH"},
		{[]string{"local", "--env", "NOEQUALS"}, ExitUsage, "KEY=VALUE"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Run(context.Background(), tc.args, &out, &errb, noEnv); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(out.String()+errb.String(), tc.say) {
				t.Errorf("output lacks %q:\n%s%s", tc.say, &out, &errb)
			}
		})
	}
}
