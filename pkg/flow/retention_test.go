package flow

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

// fakeCloud is fakeProvider with listing and deletion: every finished
// backup it started is listed under its job's name until deleted.
type fakeCloud struct {
	*fakeProvider
	deleted map[string]int // delete calls per backup id
}

func (c *fakeCloud) Backups(_ context.Context, s provider.Spec) ([]provider.CloudBackup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []provider.CloudBackup
	for ref, j := range c.jobs {
		if j.spec.InstanceID != s.InstanceID || c.deleted[string(ref)] > 0 {
			continue
		}
		st := provider.Succeeded
		if c.clk.Now().Sub(j.started) < c.dur {
			st = provider.Running
		}
		out = append(out, provider.CloudBackup{ID: string(ref), Instance: s.InstanceID, Name: j.spec.Name, Manual: true,
			State: st, Created: j.started, Size: 1 << 20})
	}
	return out, nil
}

func (c *fakeCloud) Delete(_ context.Context, _ provider.Spec, bs []provider.CloudBackup) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range bs {
		c.deleted[b.ID]++
	}
	return nil
}

// retentionHarness runs nights of a fleet of n mysql instances with
// retention after each; every dupEvery-th delivery is delivered twice.
func retentionHarness(t *testing.T, n int, rule retention.Rule, share float64, dupEvery int) (*harness, *fakeCloud) {
	t.Helper()
	cfg := Config{Retention: rule, RetentionShare: share, RetentionDelete: true}
	for i := range n {
		cfg.Targets = append(cfg.Targets, Target{InstanceID: fmt.Sprintf("cdb-r%07d", i)})
	}
	h := newHarness(t, cfg)
	c := &fakeCloud{fakeProvider: h.prov, deleted: map[string]int{}}
	svc, err := New(h.svc.cfg, Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return c, nil },
		Work:      h.work, Poll: h.poll, Dead: h.dead, Ledger: h.ledger, Notifier: h.notes,
		Now: h.clk.Now, Seed: 1, Logger: h.svc.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc, h.dupEvery = svc, dupEvery
	return h, c
}

func (h *harness) night() string {
	h.t.Helper()
	at := h.clk.Now()
	rep, err := h.svc.Nightly(context.Background(), at, Selection{})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.QueueRetention(context.Background(), rep.Run, at); err != nil {
		h.t.Fatal(err)
	}
	h.run()
	h.clk.Set(at.Add(24 * time.Hour))
	return rep.Run
}

func (h *harness) retentionNotices() []RetentionNotice {
	h.notes.mu.Lock()
	defer h.notes.mu.Unlock()
	var out []RetentionNotice
	for _, n := range h.notes.notices {
		if n.Retention != nil {
			out = append(out, *n.Retention)
		}
	}
	return out
}

// The retention notice is sent once per run under duplicate delivery, and
// finding the run's last instance costs one listing per run, not one per
// instance (the O(N²) of a listing per finished instance).
func TestRetention_OneNoticePerRunInLinearWork(t *testing.T) {
	const n = 40
	h, _ := retentionHarness(t, n, retention.Rule{KeepLast: 1}, 1, 2)
	var runs []string
	for range 3 {
		runs = append(runs, h.night())
	}
	notes := h.retentionNotices()
	if len(notes) != len(runs) {
		t.Fatalf("%d retention notices for %d runs", len(notes), len(runs))
	}
	for i, no := range notes {
		if no.Run != runs[i] || len(no.Results) != n {
			t.Errorf("notice %d: run %s with %d results; want %s with %d", i, no.Run, len(no.Results), runs[i], n)
		}
	}
	lists := 0
	for _, p := range h.ledger.lists {
		if strings.HasPrefix(p, "retention/runs/") {
			lists++
		}
	}
	if lists > len(runs) {
		t.Errorf("%d listings of the runs' retention records for %d runs of %d instances; want one a run", lists, len(runs), n)
	}
}

// countIn under duplicates and deaths: each member is filed once; a twin
// that died after filing (before its slot) is counted by its duplicate,
// one that died after its slot (before its mark) may count twice; either
// way a check that sees every member filed happens, and checks stay few.
func TestCountIn_DuplicatesAndDeaths(t *testing.T) {
	const total = 25
	for _, tc := range []struct {
		name string
		// die says how member i's first delivery ends: "" completes,
		// "filed" dies after filing, "slotted" after its slot claim.
		die func(i int) string
	}{
		{"duplicates only", func(int) string { return "" }},
		{"deaths after filing", func(i int) string { return map[bool]string{true: "filed"}[i%4 == 1] }},
		{"deaths after the slot", func(i int) string { return map[bool]string{true: "slotted"}[i%5 == 2] }},
		{"the last dies after its slot", func(i int) string { return map[bool]string{true: "slotted"}[i == total-1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			ctx := context.Background()
			const prefix = "retention/runs/r/result/"
			complete, checks, doubled := 0, 0, 0
			check := func(ok bool) {
				if !ok {
					return
				}
				checks++
				recs, err := h.svc.counted(ctx, prefix, total)
				if err != nil {
					t.Fatal(err)
				}
				if recs != nil {
					complete++
				}
			}
			for i := range total {
				member := fmt.Sprintf("m%02d", i)
				switch tc.die(i) {
				case "filed":
					if _, err := h.ledger.Claim(ctx, prefix+"items/"+member, []byte("{}")); err != nil {
						t.Fatal(err)
					}
				case "slotted":
					doubled++
					// What countIn does up to the slot, then nothing more.
					h.ledger.Claim(ctx, prefix+"items/"+member, []byte("{}"))
					for s := 0; s < total; s++ {
						if won, _ := h.ledger.Claim(ctx, fmt.Sprintf("%sslot/%06d", prefix, s), nil); won {
							break
						}
					}
				}
				for range 2 { // the delivery (or redelivery) and its duplicate
					ok, err := h.svc.countIn(ctx, prefix, member, []byte("{}"), total)
					if err != nil {
						t.Fatal(err)
					}
					check(ok)
				}
			}
			if complete == 0 {
				t.Fatalf("no check saw all %d members filed (%d checks)", total, checks)
			}
			// A member counted twice moves the last slot one member early:
			// at most two checks each (the one that finds no slot free, and
			// its duplicate), plus the last slot's and its duplicate's.
			if limit := 2 * (doubled + 1); checks > limit {
				t.Errorf("%d checks for %d members with %d counted twice; want at most %d", checks, total, doubled, limit)
			}
		})
	}
}
