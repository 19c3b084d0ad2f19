package flow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

// fakeCloud is fakeProvider with listing and deletion: every finished
// backup it started is listed under its job's name until deleted.
type fakeCloud struct {
	*fakeProvider
	deleted map[string]int // delete calls per backup id
	// lostAnswers: the next n deletes land but answer with a server fault
	// (the caller cannot tell it from one that did not land), as a
	// crash between the call and the "deleted" record leaves it.
	lostAnswers int
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
	if c.lostAnswers > 0 {
		c.lostAnswers--
		return apierr.New(apierr.Tencent, "fake", "DeleteBackup", "InternalError", "the answer was lost", "req-1", 500, nil)
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
// finding the run's last instance costs a few listings per run (the plans
// once, the delete phases' results once, the plans again for the notice),
// not one per instance (the O(N²) of a listing per finished instance).
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
	if lists > 3*len(runs) {
		t.Errorf("%d listings of the runs' retention records for %d runs of %d instances; want at most three a run", lists, len(runs), n)
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

// The per-run share is the fleet's, rounded up once: ten instances whose
// own share (rounded up each) would let every one delete a backup a night
// delete only the fleet's share, the oldest backups of the fleet first.
func TestRetention_ShareIsFleetWide(t *testing.T) {
	const n = 10
	h, c := retentionHarness(t, n, retention.Rule{KeepLast: 1}, 0.1, 3)
	var perNight []int
	prev := 0
	for range 3 {
		h.night()
		total := 0
		for id, calls := range c.deleted {
			total++
			if calls != 1 {
				t.Errorf("backup %s: %d delete calls; want 1", id, calls)
			}
		}
		perNight = append(perNight, total-prev)
		prev = total
	}
	// Night 1: one backup each, nothing selected. Night 2: 20 owned, 10
	// selected, ceil(10 % of 20) = 2. Night 3: 28 owned (two instances lost
	// one), 18 selected, ceil(2.8) = 3. Per instance, ceil(10 % of 2) = 1
	// each would have deleted 10 on night 2.
	if want := []int{0, 2, 3}; !slices.Equal(perNight, want) {
		t.Errorf("deletions per night = %v; want %v (the fleet's share)", perNight, want)
	}
	notes := h.retentionNotices()
	if len(notes) != 3 {
		t.Fatalf("%d notices; want 3", len(notes))
	}
	for i, want := range []struct{ expired, withheld int }{{0, 0}, {2, 8}, {3, 15}} {
		_, expired, _, _ := notes[i].Totals()
		withheld := 0
		for _, r := range notes[i].Results {
			withheld += r.Withheld
		}
		if expired != want.expired || withheld != want.withheld {
			t.Errorf("night %d notice: %d expired, %d withheld; want %d, %d", i+1, expired, withheld, want.expired, want.withheld)
		}
	}
	// The oldest of the fleet went first: night 2 deleted two of night 1's.
	c.mu.Lock()
	defer c.mu.Unlock()
	var firstNight []string
	for ref, j := range c.jobs {
		if j.started.Before(h.clk.Now().Add(-47 * time.Hour)) {
			firstNight = append(firstNight, string(ref))
		}
	}
	gone := 0
	for _, id := range firstNight {
		gone += c.deleted[id]
	}
	if gone != 5 {
		t.Errorf("%d of night 1's backups deleted after three nights; want 5 (the oldest first)", gone)
	}
}

// A delete that landed but whose answer never came (as a process killed
// between the call and the "deleted" record leaves it) is not forgotten:
// the retry finds the backup gone, does not delete again, records it
// deleted and counts it in the run's notice.
func TestRetention_LandedDeleteWithoutAnAnswerIsRecorded(t *testing.T) {
	h, c := retentionHarness(t, 1, retention.Rule{KeepLast: 1}, 1, 0)
	h.night()
	c.lostAnswers = 1
	h.night()
	if len(c.deleted) != 1 {
		t.Fatalf("%d backups deleted after two nights of keep-last-1; want 1", len(c.deleted))
	}
	for id, calls := range c.deleted {
		if calls != 1 {
			t.Errorf("backup %s: %d delete calls; want 1 (it was gone when retried)", id, calls)
		}
		b, _, _ := h.ledger.Get(context.Background(), keyDeletion("cdb-r0000000", id))
		if !strings.Contains(string(b), `"state":"deleted"`) {
			t.Errorf("deletion record %s; want state deleted", b)
		}
	}
	if keys, _ := h.ledger.List(context.Background(), "retention/pending/"); len(keys) != 0 {
		t.Errorf("pending marks left: %v", keys)
	}
	notes := h.retentionNotices()
	if len(notes) != 2 {
		t.Fatalf("%d notices; want 2", len(notes))
	}
	if _, expired, bytes, _ := notes[1].Totals(); expired != 1 || bytes != 1<<20 {
		t.Errorf("night 2 notice: %d expired, %d bytes; want 1 and 1 MiB", expired, bytes)
	}
}
