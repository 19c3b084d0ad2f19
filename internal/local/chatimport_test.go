package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/flow"
)

// docsBlock returns the sh block of docs/local.md under marker.
func docsBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/local.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- "+marker)
	if !ok {
		t.Fatalf("docs/local.md has no %s block", marker)
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/local.md: the %s block is not closed", marker)
	}
	return block
}

// Issue 14, done-when: in the local stack (`make run`), the Slack curl of
// docs/local.md asking for an import, then `confirm <code>` with the code it
// answered, queues the import, and the import runs to its end. The block
// is run as written, with bash, curl and openssl, except for the stack's
// port, the scratch file and the code taken from the first answer.
func TestSlackImportThenConfirm(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	out := &syncBuf{}
	o := testOptions(t, out)
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Begin(ctx)
	defer func() {
		cancel()
		if err := s.Close(10 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	work := t.TempDir()
	if err := os.Symlink(o.Dir, filepath.Join(work, ".backupflow")); err != nil {
		t.Fatal(err)
	}
	bak := filepath.Join(work, "orders.bak")
	if err := writeBackup(bak); err != nil {
		t.Fatal(err)
	}
	var script []string
	for _, line := range strings.Split(docsBlock(t, "docs-test: local-import-confirm"), "\n") {
		line = strings.ReplaceAll(line, "localhost:9091", strings.TrimPrefix(s.ChatURL, "http://"))
		line = strings.ReplaceAll(line, "/tmp/orders.bak", bak)
		switch {
		case strings.HasPrefix(line, "slack "):
			line = `answer=$(` + line + `); printf '%s\n' "$answer"`
		case strings.HasPrefix(line, "code="):
			line = `code=$(printf '%s' "$answer" | sed -n 's/.*confirm \([A-Z2-7]\{6\}\).*/\1/p')`
		}
		script = append(script, line)
	}
	cmd := exec.Command("bash", "-euc", strings.Join(script, "\n"))
	cmd.Dir = work
	answers, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the docs block failed: %v\n%s\nstack:\n%s", err, answers, out)
	}
	lines := strings.Split(strings.TrimSpace(string(answers)), "\n")
	if len(lines) != 2 || !regexp.MustCompile("send `confirm [A-Z2-7]{6}`").MatchString(lines[0]) ||
		!strings.Contains(lines[1], "Import of cos://backups-1250000000/manual/orders.bak into mssql-rdc0gajn queued as job slack-") {
		t.Fatalf("answers:\n%s\nwant the confirmation code, then the import queued; stack:\n%s", answers, out)
	}
	deadline := time.After(30 * time.Second)
	for {
		for _, r := range s.Rows() {
			if r.Source == "chat" && r.Outcome != nil {
				if r.Outcome.Result != flow.Succeeded || r.Target != "mssql-rdc0gajn" || !strings.HasPrefix(r.Kind, "import/") {
					t.Fatalf("chat job ended %s %s %+v\n%s", r.Kind, r.Target, r.Outcome, out)
				}
				return
			}
		}
		select {
		case <-deadline:
			t.Fatalf("no outcome of the confirmed import:\n%s", out)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
