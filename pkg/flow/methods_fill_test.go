package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

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

// timed is a provider whose answer for a finished job carries the cloud's
// own run time.
type timed struct {
	*fakeProvider
	took time.Duration
}

func (p timed) Status(ctx context.Context, s provider.Spec, ref provider.Ref) (provider.Status, error) {
	st, err := p.fakeProvider.Status(ctx, s, ref)
	if st.State == provider.Succeeded {
		st.Took = p.took
	}
	return st, err
}

// TestHistoryIsTheCloudsRunTime: when the status answer says how long the
// job ran, that is the duration recorded for the next night, not the
// estimate from the checks' bracket (which only knows the end lies
// between two checks minutes apart).
func TestHistoryIsTheCloudsRunTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		took time.Duration
		want string
	}{
		{"the cloud's run time", 7*time.Minute + 3*time.Second, "423000"},
		// 7 min job, checks at 2.5 min (floor 20 s, share 8 %): the last
		// check that saw it running and the one that saw it done bracket it.
		{"no run time: the bracket's estimate", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Targets: []Target{{InstanceID: "cdb-c1nl9rpv"}}})
			p := timed{fakeProvider: h.prov, took: tc.took}
			h.svc.d.Providers = func(provider.Product) (provider.Provider, error) { return p, nil }
			if _, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{}); err != nil {
				t.Fatal(err)
			}
			h.run()
			b, ok, err := h.ledger.Get(context.Background(), "history/mysql/cdb-c1nl9rpv/backup")
			if err != nil || !ok {
				t.Fatalf("no history written (%v)", err)
			}
			if tc.want != "" && string(b) != tc.want {
				t.Errorf("history %s ms; want %s (the cloud's)", b, tc.want)
			}
			if ms, _ := strconv.Atoi(string(b)); tc.want == "" && (ms == 423000 || ms < 5*60000 || ms > 9*60000) {
				t.Errorf("history %s ms without a run time from the cloud; want the bracket's estimate near 7 min", b)
			}
		})
	}
}
