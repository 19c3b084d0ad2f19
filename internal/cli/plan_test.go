package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
)

// TestPlanDefaultFleet: against the emulator's default fleet, plan lists
// every tagged running instance with its method and the read-only,
// isolated and creating ones as skipped with their reasons, predicts a
// window, and creates nothing in the cloud or the ledger.
func TestPlanDefaultFleet(t *testing.T) {
	emu := emulatorEnv(t)
	code, out, errs := run(t, getenvOS, "plan", "--at", "2026-12-04T01:00:00Z", "--json")
	if code != ExitOK {
		t.Fatalf("plan --json = %d\n%s%s", code, out, errs)
	}
	var p flow.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	jobs := map[string]flow.PlannedJob{}
	for _, j := range p.Jobs {
		jobs[j.Instance] = j
	}
	skipped := map[string]string{}
	for _, s := range p.Skipped {
		skipped[s.InstanceID] = s.Reason
	}
	for _, in := range fixture.Default().Instances {
		if in.Tags[fixture.NightlyTagKey] != fixture.NightlyTagValue {
			if _, ok := jobs[in.ID]; ok {
				t.Errorf("%s is untagged but planned", in.ID)
			}
			continue
		}
		switch {
		case in.ReadOnly:
			if !strings.Contains(skipped[in.ID], "read-only") {
				t.Errorf("%s: skip reason %q; want read-only", in.ID, skipped[in.ID])
			}
		case in.StatusOrDefault() != "running":
			if !strings.Contains(skipped[in.ID], in.StatusOrDefault()) {
				t.Errorf("%s: skip reason %q; want %s", in.ID, skipped[in.ID], in.StatusOrDefault())
			}
		default:
			if _, ok := jobs[in.ID]; !ok {
				t.Errorf("%s: tagged and running but not planned", in.ID)
			}
		}
	}
	for id, want := range map[string]string{"cdb-b4sic001": "snapshot", "cmgo-hcd00001": "physical", "cmgo-tde00001": "snapshot", "cdb-c1nl9rpv": "physical"} {
		if got := jobs[id].Method; got != want {
			t.Errorf("%s: method %q; want %q", id, got, want)
		}
	}
	if p.Window.P95 <= 0 || len(p.Pacing) != 4 {
		t.Errorf("window %+v, pacing %+v; want a window and four products", p.Window, p.Pacing)
	}
	if n := len(emu.Jobs()); n != 0 {
		t.Errorf("plan made %d cloud jobs; want none", n)
	}
	l, err := ledger.Open(context.Background(), "mem://"+t.Name(), openurl.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := l.List(context.Background(), ""); err != nil || len(keys) != 0 {
		t.Errorf("plan wrote the ledger: %v %v", keys, err)
	}

	code, out, errs = run(t, getenvOS, "plan", "--at", "2026-12-04T01:00:00Z")
	for _, want := range []string{"Plan of nightly-20261204T0100Z", "cdb-ro000001", "read-only replica", "Pacing:", "Predicted window"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("plan = %d, output lacks %q:\n%s%s", code, want, out, errs)
		}
	}
}

// TestPlanWindowFromHistory: the window plan prints is the simulated
// night of the instances' recorded durations: a 45-minute record for one
// instance makes the night end after 45 minutes while half the jobs are
// still done within the emulator's typical times.
func TestPlanWindowFromHistory(t *testing.T) {
	emulatorEnv(t)
	l, err := ledger.Open(context.Background(), "mem://"+t.Name(), openurl.Env{})
	if err != nil {
		t.Fatal(err)
	}
	plan := func() flow.Plan {
		t.Helper()
		code, out, errs := run(t, getenvOS, "plan", "--at", "2026-12-04T01:00:00Z", "--json")
		var p flow.Plan
		if code != ExitOK || json.Unmarshal([]byte(out), &p) != nil {
			t.Fatalf("plan --json = %d\n%s%s", code, out, errs)
		}
		return p
	}
	before := plan()
	if err := l.Put(context.Background(), "history/mysql/cdb-c1nl9rpv/backup", []byte("2700000")); err != nil {
		t.Fatal(err)
	}
	after := plan()
	if !strings.Contains(after.Window.Basis, "simulated night") || !strings.Contains(after.Window.Basis, "(1 of 11;") {
		t.Errorf("basis %q; want a simulated night with one recorded duration", after.Window.Basis)
	}
	if after.Window.Last < 45*time.Minute || after.Window.Last > 50*time.Minute || before.Window.Last >= 45*time.Minute {
		t.Errorf("the night ends at +%s with the 45-minute record, +%s without; want after 45 minutes only with it",
			after.Window.Last, before.Window.Last)
	}
	if d := after.Window.P50 - before.Window.P50; d < -5*time.Second || d > 5*time.Second {
		t.Errorf("p50 moved from %s to %s for one instance of 11", before.Window.P50, after.Window.P50)
	}
}
