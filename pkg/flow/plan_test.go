package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// TestPlanIsTheNightsFanOut: the plan names the jobs, methods, delays and
// skips the nightly run then sends, and planning itself starts nothing,
// sends nothing and writes nothing.
func TestPlanIsTheNightsFanOut(t *testing.T) {
	h := newHarness(t, Config{DiscoverTag: "backupflow=nightly", Targets: []Target{
		{InstanceID: "cdb-b4sic001", Method: "physical"}, // Basic edition: snapshot only
	}})
	found := fixedDiscoverer{
		{Product: provider.MySQL, InstanceID: "cdb-b4sic001", Eligible: true, Methods: []string{"snapshot"}, Kind: "Basic edition"},
		{Product: provider.MySQL, InstanceID: "cdb-ro000001", Eligible: false, Reason: "read-only replica"},
	}
	for i := range 12 { // over the 5/s planned rate: creates spread over seconds
		found = append(found, provider.Instance{Product: provider.MySQL, InstanceID: fmt.Sprintf("cdb-m%07d", i), Eligible: true,
			Methods: []string{"physical", "logical"}})
	}
	h.svc.d.Discoverers = map[provider.Product]Discoverer{provider.MySQL: found,
		provider.MongoDB: fixedDiscoverer{{Product: provider.MongoDB, InstanceID: "cmgo-ayxpky6l", Eligible: true}}}
	// One instance has a recorded duration.
	_ = h.ledger.Put(context.Background(), "history/mysql/cdb-m0000003/backup", []byte("90000"))
	before := maps.Clone(h.ledger.m)

	plan, err := h.svc.Plan(context.Background(), h.clk.Now(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(h.ledger.m, before, slices.Equal) || h.work.sent+h.poll.sent+h.dead.sent != 0 || h.prov.starts != 0 {
		t.Fatalf("planning changed something: ledger %d→%d keys, %d sends, %d starts",
			len(before), len(h.ledger.m), h.work.sent+h.poll.sent+h.dead.sent, h.prov.starts)
	}
	if len(plan.Skipped) != 2 {
		t.Errorf("skipped = %+v; want the read-only replica and the Basic edition asked for physical", plan.Skipped)
	}

	rep, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		method string
		delay  time.Duration
	}
	got := map[string]sent{}
	for i := range h.work.sent {
		var m job.Message
		if err := json.Unmarshal(h.work.msgs[i].body, &m); err != nil {
			t.Fatal(err)
		}
		got[m.JobID] = sent{m.Spec.Method, h.work.delay[i]}
	}
	if len(plan.Jobs) != len(rep.Jobs) || len(got) != len(rep.Jobs) {
		t.Fatalf("plan has %d jobs; the run made %d and sent %d", len(plan.Jobs), len(rep.Jobs), len(got))
	}
	for _, pj := range plan.Jobs {
		if s, ok := got[pj.Job]; !ok || s.method != pj.Method || s.delay != pj.Due {
			t.Errorf("planned %s (%s) method %q due %s; the run sent %+v (found %v)", pj.Job, pj.Instance, pj.Method, pj.Due, s, ok)
		}
		if pj.FromHistory != (pj.Instance == "cdb-m0000003") {
			t.Errorf("%s: from history %v", pj.Instance, pj.FromHistory)
		}
	}
	if !slices.EqualFunc(plan.Skipped, rep.Skipped, func(a, b provider.Instance) bool { return a.InstanceID == b.InstanceID && a.Reason == b.Reason }) {
		t.Errorf("plan skips %+v; the run skipped %+v", plan.Skipped, rep.Skipped)
	}
	var mysql Pacing
	for _, pc := range plan.Pacing {
		if pc.Product == provider.MySQL {
			mysql = pc
		}
	}
	if mysql.Jobs != 12 || mysql.PerSecond != 5 || mysql.LastDue != 2*time.Second {
		t.Errorf("mysql pacing = %+v; want 12 jobs at the whole 5/s limit, the last due at 2s", mysql)
	}
	if plan.Window != (Window{}) {
		t.Errorf("window = %+v; want none: the window is a simulated night (simulate.Predict)", plan.Window)
	}
}

// A target whose product is not enabled is still started by the run (and
// fails); the plan says so rather than pretending it is fine.
func TestPlanNamesAProductNotEnabled(t *testing.T) {
	h := newHarness(t, Config{Targets: []Target{{InstanceID: "cdb-c1nl9rpv"}, {InstanceID: "cmgo-ayxpky6l"}}})
	h.svc.d.Providers = func(p provider.Product) (provider.Provider, error) {
		if p == provider.MongoDB {
			return nil, fmt.Errorf("product %s is not enabled (BACKUPFLOW_PRODUCTS)", p)
		}
		return h.prov, nil
	}
	plan, err := h.svc.Plan(context.Background(), h.clk.Now(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pj := range plan.Jobs {
		if (pj.Problem != "") != (pj.Product == provider.MongoDB) {
			t.Errorf("%s: problem %q", pj.Instance, pj.Problem)
		}
	}
}

func TestPlanRefusedOverTheLimit(t *testing.T) {
	h := newHarness(t, Config{MaxTargets: 1, Targets: []Target{{InstanceID: "cdb-c1nl9rpv"}, {InstanceID: "cmgo-ayxpky6l"}}})
	plan, err := h.svc.Plan(context.Background(), h.clk.Now(), Selection{})
	if err != nil || plan.Refused == "" {
		t.Errorf("plan over the limit: refused %q, err %v; want refused", plan.Refused, err)
	}
}
