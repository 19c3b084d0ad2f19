package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// resolving is a provider that tells default methods in batches, failing
// its first batch once.
type resolving struct {
	*fakeProvider
	batches [][]string
	failed  bool
}

func (r *resolving) DefaultMethods(_ context.Context, _ string, ids []string) (map[string]string, error) {
	r.batches = append(r.batches, ids)
	if !r.failed {
		r.failed = true
		return nil, apierr.Ambiguous("gateway 502")
	}
	out := map[string]string{}
	for _, id := range ids {
		if id != "cdb-m0000007" { // not listed: the create looks it up itself
			out[id] = "physical"
		}
	}
	return out, nil
}

// TestNightlyReadsDefaultMethodsInBatches: the fan-out asks the provider
// for the methods of its targets that name none, a hundred at a time
// (a failed batch is tried again), and each create message carries its
// method, so no create makes a lookup call inside its rate-limit slot. A
// configured method is kept and not asked for.
func TestNightlyReadsDefaultMethodsInBatches(t *testing.T) {
	targets := []Target{{InstanceID: "cdb-conf0001", Method: "logical"}}
	for i := range 250 {
		targets = append(targets, Target{InstanceID: fmt.Sprintf("cdb-m%07d", i)})
	}
	h := newHarness(t, Config{Targets: targets})
	r := &resolving{fakeProvider: h.prov}
	h.svc.d.Providers = func(provider.Product) (provider.Provider, error) { return r, nil }
	if _, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	if len(r.batches) != 4 || len(r.batches[0]) != 100 || len(r.batches[1]) != 100 || len(r.batches[3]) != 50 {
		sizes := []int{}
		for _, b := range r.batches {
			sizes = append(sizes, len(b))
		}
		t.Fatalf("batches of %v ids; want 100 (failed), 100, 100, 50", sizes)
	}
	methods := map[string]string{}
	for i := range h.work.sent {
		var m job.Message
		if err := json.Unmarshal(h.work.msgs[i].body, &m); err != nil {
			t.Fatal(err)
		}
		methods[m.Spec.InstanceID] = m.Spec.Method
	}
	for id, want := range map[string]string{"cdb-conf0001": "logical", "cdb-m0000000": "physical", "cdb-m0000249": "physical", "cdb-m0000007": ""} {
		if methods[id] != want {
			t.Errorf("%s sent with method %q; want %q", id, methods[id], want)
		}
	}
	for _, b := range r.batches {
		for _, id := range b {
			if id == "cdb-conf0001" {
				t.Errorf("the configured method's instance was asked for")
			}
		}
	}
}
