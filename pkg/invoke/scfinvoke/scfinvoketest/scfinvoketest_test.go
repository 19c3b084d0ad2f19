package scfinvoketest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke/scfinvoketest"
)

// TestStartAndInvoke runs the scfinvoke test function as SCF would: the
// environment travels with each invocation, failures come back in the reply.
func TestStartAndInvoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "scffn")
	if out, err := exec.Command("go", "build", "-o", bin, "../testdata/scffn").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var logs bytes.Buffer
	p, err := scfinvoketest.Start(context.Background(), bin, nil, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	timer, err := os.ReadFile("../../../../events/create-backup/scf-timer.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := p.Invoke(ctx, p.Request(timer, map[string]string{"GREETING": "hi"}, time.Minute))
	if err != nil || resp.Error != nil || !strings.Contains(string(resp.Payload), `"Greeting":"hi"`) {
		t.Fatalf("Invoke = %s, %+v, %v; want the greeting from the per-invocation environment", resp.Payload, resp.Error, err)
	}
	resp, err = p.Invoke(ctx, p.Request(timer, map[string]string{"FAIL_MODE": "error"}, time.Minute))
	if err != nil || resp.Error == nil || resp.Error.Message != "scffn: asked to fail" {
		t.Fatalf("Invoke(FAIL_MODE=error) = %+v, %v; want the failure in the reply", resp, err)
	}
	if err := p.Ping(); err != nil {
		t.Errorf("Ping after a failure: %v", err)
	}
}

func TestStartFailsForABinaryThatNeverListens(t *testing.T) {
	if _, err := scfinvoketest.Start(context.Background(), "/bin/true", nil, &bytes.Buffer{}); err == nil {
		t.Fatal("Start succeeded for a process that exits without listening")
	}
}
