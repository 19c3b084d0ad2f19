package flow

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

type fixedDiscoverer []provider.Instance

func (d fixedDiscoverer) Discover(context.Context, string, string) ([]provider.Instance, error) {
	return d, nil
}

// The method comes from what discovery read: a discovered instance and a
// configured target naming none take the instance's default; a configured
// method the instance cannot take skips the target with the reason.
func TestNightlyMethodPerInstanceKind(t *testing.T) {
	h := newHarness(t, Config{DiscoverTag: "backupflow=nightly", Targets: []Target{
		{InstanceID: "cdb-b4sic001", Method: "physical"}, // Basic edition: snapshot only
		{InstanceID: "cdb-c1nl9rpv"},                     // no method: the instance's default
	}})
	basic := []string{"snapshot"}
	h.svc.d.Discoverers = map[provider.Product]Discoverer{provider.MySQL: fixedDiscoverer{
		{Product: provider.MySQL, InstanceID: "cdb-b4sic001", Eligible: true, Methods: basic, Kind: "Basic edition"},
		{Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Eligible: true, Methods: []string{"physical", "logical", "snapshot"}},
		{Product: provider.MySQL, InstanceID: "cdb-b4sic002", Eligible: true, Methods: basic, Kind: "Basic edition"},
	}}
	rep, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].InstanceID != "cdb-b4sic001" ||
		!strings.Contains(rep.Skipped[0].Reason, "cannot take a physical backup (Basic edition): use snapshot") {
		t.Errorf("skipped = %+v; want cdb-b4sic001 with the reason", rep.Skipped)
	}
	got := map[string]string{}
	for {
		m, ok := h.work.next()
		if !ok {
			break
		}
		var msg job.Message
		if err := json.Unmarshal(m.body, &msg); err != nil {
			t.Fatal(err)
		}
		got[msg.Spec.InstanceID] = msg.Spec.Method
	}
	want := map[string]string{"cdb-c1nl9rpv": "physical", "cdb-b4sic002": "snapshot"}
	if len(got) != len(want) || got["cdb-c1nl9rpv"] != "physical" || got["cdb-b4sic002"] != "snapshot" {
		t.Errorf("created specs' methods = %v; want %v", got, want)
	}
}

// TestNightlyNarrowedRunSkipsOnlySelected: a run narrowed to some targets
// reports as skipped only selected instances, not every ineligible one the
// discovery found.
func TestNightlyNarrowedRunSkipsOnlySelected(t *testing.T) {
	h := newHarness(t, Config{DiscoverTag: "backupflow=nightly"})
	h.svc.d.Discoverers = map[provider.Product]Discoverer{provider.MySQL: fixedDiscoverer{
		{Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Eligible: true},
		{Product: provider.MySQL, InstanceID: "cdb-b4sic001", Eligible: false, Reason: "stopped"},
		{Product: provider.MySQL, InstanceID: "cdb-b4sic002", Eligible: false, Reason: "stopped"},
	}}
	rep, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{Targets: []string{"cdb-c1nl9rpv", "cdb-b4sic002"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].InstanceID != "cdb-b4sic002" {
		t.Errorf("skipped = %+v; want only the selected cdb-b4sic002", rep.Skipped)
	}
	if len(rep.Jobs) != 1 {
		t.Errorf("jobs = %v; want 1 (cdb-c1nl9rpv; the skipped selection is not backed up)", rep.Jobs)
	}
}
