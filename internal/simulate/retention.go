package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

// RetentionMix is the retention simulation's default fleet: the products
// whose adapters list and delete backups (cdb DeleteBackup, Huawei
// DeleteManualBackup).
var RetentionMix = map[provider.Product]float64{provider.MySQL: 0.8, provider.HuaweiRDS: 0.2}

// RetentionOptions configure a retention simulation: Nights nightly runs of
// the deployed functions over one emulator that keeps every backup from
// night to night, with retention deleting after each run.
type RetentionOptions struct {
	Instances  int
	Mix        map[provider.Product]float64 // default RetentionMix
	Nights     int                          // default 30
	Faults     float64
	Duplicates float64
	Seed       uint64
	Rule       retention.Rule // default keep-last=7
	Share      float64        // default retention.DefaultShare
}

// RetentionNight is one night of the retention simulation.
type RetentionNight struct {
	Night int `json:"night"`
	// Made: backupflow backups that succeeded tonight; Deleted: backups the
	// cloud accepted a delete of tonight; Kept: backupflow backups the cloud
	// holds after the night.
	Made    int `json:"made"`
	Deleted int `json:"deleted"`
	Kept    int `json:"kept"`
	// Cloud calls tonight: every call, and of them retention's listings and
	// delete calls (answered or not).
	Calls   int `json:"apiCalls"`
	Lists   int `json:"listCalls"`
	Deletes int `json:"deleteCalls"`
	// Off counts instances whose kept backupflow backups after the night
	// are not exactly the newest the rule keeps.
	Off int `json:"instancesOff"`
	// Expired is what the night's retention notice reported.
	Expired int `json:"noticeExpired"`
	Notices int `json:"notices"`
}

// RetentionReport is a whole retention simulation, with its invariants.
type RetentionReport struct {
	Instances  int                      `json:"instances"`
	PerProduct map[provider.Product]int `json:"perProduct"`
	Foreign    int                      `json:"foreignBackups"` // automatic, hand-made and look-alike backups seeded
	Rule       retention.Rule           `json:"rule"`
	Share      float64                  `json:"share"`
	Faults     float64                  `json:"faults"`
	Duplicates float64                  `json:"duplicates"`
	Seed       uint64                   `json:"seed"`
	Nights     []RetentionNight         `json:"nights"`
	// NotOurs: backups deleted that no successful backupflow job of the
	// instance made. Twice: delete calls for a backup after the cloud had
	// answered one accepted (a call whose answer was lost to a fault may be
	// re-issued: that is the same deletion, not a second).
	NotOurs int           `json:"deletedNotOurs"`
	Twice   int           `json:"deletedTwice"`
	Wall    time.Duration `json:"wallNs"`
}

func (o RetentionOptions) withDefaults() RetentionOptions {
	if o.Mix == nil {
		o.Mix = RetentionMix
	}
	if o.Nights <= 0 {
		o.Nights = 30
	}
	if !o.Rule.Enabled() {
		o.Rule = retention.Rule{KeepLast: 7}
	}
	if o.Share <= 0 {
		o.Share = retention.DefaultShare
	}
	return o
}

// Retention runs the retention simulation. The fleet's instances also hold
// backups retention must never touch: the cloud's automatic backup (cdb),
// one made by hand, and names that only look like backupflow's (a copy
// with a suffix, one in upper case, another instance's job name).
func Retention(ctx context.Context, o RetentionOptions) (RetentionReport, error) {
	o = o.withDefaults()
	if o.Instances <= 0 {
		return RetentionReport{}, errors.New("simulate retention: instances must be positive")
	}
	if o.Rule.KeepDays > 0 {
		// The kept-set check below is the keep-last rule's; keep-days is
		// covered by pkg/retention's tests.
		return RetentionReport{}, errors.New("simulate retention: only keep-last rules are simulated")
	}
	start := time.Now()
	fl := newFleet(o.Instances, o.Mix, o.Seed)
	rep := RetentionReport{Instances: o.Instances, PerProduct: fl.perProd, Rule: o.Rule, Share: o.Share,
		Faults: o.Faults, Duplicates: o.Duplicates, Seed: o.Seed}
	// The clock starts before the first night, so the foreign backups made
	// through an API have finished when it begins.
	clk := clocktest.New(epoch.Add(-seedLead))
	w, err := newWorld(clk, fl.night(o.Seed, 0), injector(o.Faults, o.Seed+17))
	if err != nil {
		return rep, err
	}
	if rep.Foreign, err = seedForeign(ctx, w, clk, fl); err != nil {
		return rep, err
	}
	cfg := flow.Config{QuietSuccess: true, Retention: o.Rule, RetentionShare: o.Share, RetentionDelete: true}
	for _, in := range fl.instances {
		cfg.Targets = append(cfg.Targets, flow.Target{InstanceID: in.ID, Product: in.Product, Region: in.RegionOrDefault()})
	}
	cfg.MaxTargets = len(cfg.Targets)
	dep, err := newDeployed(ctx, clk, fmt.Sprintf("mem://simulate-retention-%d-%d", o.Seed, ledgerSeq.Add(1)), o.Duplicates, o.Seed, cfg, w.provider)
	if err != nil {
		return rep, err
	}
	d, led, notes := dep.d, dep.led, dep.notes
	made := map[string][]madeBackup{}                                   // per instance, oldest first
	prevStatus, prevOther, prevLists, prevDeletes := w.calls.snapshot() // the seeding's calls are no night's
	for night := range o.Nights {
		at := epoch.Add(time.Duration(night) * 24 * time.Hour)
		clk.Set(at)
		jobs, err := d.nightly(ctx, at)
		if err != nil {
			return rep, fmt.Errorf("simulate retention: night %d fan-out: %w", night+1, err)
		}
		end := at.Add(24 * time.Hour)
		if err := d.run(ctx, end.Add(-time.Minute)); err != nil {
			return rep, err
		}
		n := RetentionNight{Night: night + 1}
		for _, id := range jobs {
			oc, ok := readOutcome(ctx, led, id)
			if !ok || oc.Result != flow.Succeeded {
				continue
			}
			n.Made++
			made[oc.Instance] = append(made[oc.Instance], madeBackup{id: oc.Detail, name: job.Name(id)})
		}
		truth := w.emu.Jobs()
		live := map[string]map[string]bool{} // instance -> backup ids the cloud holds
		for _, j := range truth {
			if !j.Deleted.IsZero() {
				if !j.Deleted.Before(at) && j.Deleted.Before(end) {
					n.Deleted++
				}
				continue
			}
			if live[j.InstanceID] == nil {
				live[j.InstanceID] = map[string]bool{}
			}
			live[j.InstanceID][j.ID] = true
		}
		for _, in := range fl.instances {
			var kept []string
			for _, m := range made[in.ID] {
				if live[in.ID][m.id] {
					kept = append(kept, m.id)
				}
			}
			n.Kept += len(kept)
			ms := made[in.ID]
			var want []string
			for _, m := range ms[max(len(ms)-o.Rule.KeepLast, 0):] {
				want = append(want, m.id)
			}
			if !slices.Equal(kept, want) {
				n.Off++
			}
		}
		status, other, lists, deletes := w.calls.snapshot()
		n.Lists, n.Deletes = lists-prevLists, deletes-prevDeletes
		n.Calls = status - prevStatus + other - prevOther + n.Lists + n.Deletes
		prevStatus, prevOther, prevLists, prevDeletes = status, other, lists, deletes
		run := "nightly-" + job.Slot(at)
		for _, rn := range notes.retention {
			if rn.Run == run {
				n.Notices++
				_, e, _, _ := rn.Totals()
				n.Expired += e
			}
		}
		rep.Nights = append(rep.Nights, n)
	}
	// Nothing deleted that a successful backupflow job did not make there.
	ours := map[string]bool{}
	for inst, ms := range made {
		for _, m := range ms {
			ours[inst+"/"+m.id] = true
		}
	}
	for _, j := range w.emu.Jobs() {
		if !j.Deleted.IsZero() && !ours[j.InstanceID+"/"+j.ID] {
			rep.NotOurs++
		}
	}
	w.calls.mu.Lock()
	rep.Twice = w.calls.afterAccepted
	w.calls.mu.Unlock()
	rep.Wall = time.Since(start)
	return rep, nil
}

type madeBackup struct{ id, name string }

// seedLead is how long before the first night the foreign backups are
// made: one round per name, each longer than any backup takes.
const seedLead = 5 * (durMax + 2*time.Minute)

// seedForeign gives every instance the backups retention must keep and
// returns how many it made. Look-alike names borrow backupflow names the
// run will really use (its own job's night-3 name with a suffix and in
// upper case, and the next instance's night-2 name).
func seedForeign(ctx context.Context, w *world, clk *clocktest.Clock, fl *fleet) (int, error) {
	past := epoch.Add(-seedLead - 24*time.Hour)
	name := func(night int, inst string) string {
		return job.Name(job.NewID("nightly", job.Slot(epoch.Add(time.Duration(night-1)*24*time.Hour)), inst))
	}
	namesOf := func(i int) []string {
		in, next := fl.instances[i].ID, fl.instances[(i+1)%len(fl.instances)].ID
		return []string{"before-upgrade", name(3, in) + "-copy", strings.ToUpper(name(5, in)), name(2, next)}
	}
	n := 0
	for i, in := range fl.instances {
		switch in.Product {
		case provider.MySQL:
			if _, err := w.emu.Tencent.SeedBackup(in.ID, "", true, past); err != nil {
				return n, err
			}
			n++
			for k, nm := range namesOf(i) {
				if _, err := w.emu.Tencent.SeedBackup(in.ID, nm, false, past.Add(time.Duration(k+1)*time.Hour)); err != nil {
					return n, err
				}
				n++
			}
		case provider.HuaweiRDS:
		default:
			return n, fmt.Errorf("simulate retention: %s cannot list and delete backups here; use mysql and huawei-rds", in.Product)
		}
	}
	// Huawei's emulator seeds nothing: its foreign backups are made through
	// its create API, one round per name (an instance makes one backup at a
	// time), past the injected faults and the rate limit on the virtual
	// clock. A retry that makes a second copy only adds a foreign backup.
	pr, err := w.provider(provider.HuaweiRDS)
	if err != nil {
		return n, nil // no Huawei instances
	}
	// Huawei refuses a name already used in the project, so the
	// other-instance look-alike (a name that instance will use) is cdb's
	// only; an "already exists" answer means an earlier try landed.
	for round := range 3 {
		roundEnd := clk.Now().Add(durMax + 2*time.Minute)
		for i, in := range fl.instances {
			if in.Product != provider.HuaweiRDS {
				continue
			}
			spec := provider.Spec{Op: provider.Backup, Product: in.Product, Region: in.RegionOrDefault(), InstanceID: in.ID,
				Name: namesOf(i)[round]}
			for try := 0; ; try++ {
				if _, err = pr.Start(ctx, spec); err == nil || apierr.Code(err) == "DBS.201209" {
					break
				}
				if try == 50 {
					return n, fmt.Errorf("simulate retention: seed %s on %s: %w", spec.Name, in.ID, err)
				}
				clk.Advance(time.Second)
			}
			n++
		}
		clk.Set(roundEnd)
	}
	return n, nil
}

func (c *callCounter) snapshot() (status, other, lists, deletes int) {
	status, other = c.total()
	c.mu.Lock()
	defer c.mu.Unlock()
	return status, other, c.lists, c.deletes
}

// Print writes the retention simulation as one line per night and its
// invariants.
func (r RetentionReport) Print(w io.Writer) {
	var mix []string
	for _, p := range provider.Products {
		if r.PerProduct[p] > 0 {
			mix = append(mix, fmt.Sprintf("%s %d", p, r.PerProduct[p]))
		}
	}
	fmt.Fprintf(w, "retention simulation: %d instances (%s), rule %s, share %.2f; faults %.0f%%, duplicate deliveries %.0f%%, seed %d; %d foreign backups (automatic, by hand, look-alike names)\n",
		r.Instances, strings.Join(mix, ", "), r.Rule, r.Share, r.Faults*100, r.Duplicates*100, r.Seed, r.Foreign)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "night\tmade\tdeleted\tkept\tAPI calls\tlist calls\tdelete calls\tnotice expired\tinstances off\t")
	for _, n := range r.Nights {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", n.Night, n.Made, n.Deleted, n.Kept, n.Calls, n.Lists, n.Deletes, n.Expired, n.Off)
	}
	_ = tw.Flush()
	off, deleted, calls := 0, 0, 0
	for _, n := range r.Nights {
		off += n.Off
		deleted += n.Deleted
		calls += n.Calls
	}
	fmt.Fprintf(w, "over %d nights: %d deleted, %d API calls; instance-nights off the rule %d, deleted not backupflow's %d, deleted twice %d; wall %s\n",
		len(r.Nights), deleted, calls, off, r.NotOurs, r.Twice, r.Wall.Round(time.Millisecond))
}
