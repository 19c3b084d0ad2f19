package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Selection narrows one timer run to some instances. It is what an SCF timer's
// Message (or an EventBridge Input) may carry: {"targets":["cdb-…","mssql-…"]}.
type Selection struct {
	Targets []string `json:"targets"`
}

// ParseSelection reads a timer message strictly: empty text selects every
// target; otherwise it must be one JSON object of Selection's fields with
// at least one target. Free text, an unknown key (a typo such as "target"),
// an empty list or trailing data is an error, so a mistyped selection never
// becomes a run over everything. Errors quote no part of the message.
func ParseSelection(msg string) (Selection, error) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return Selection{}, nil
	}
	const want = `want "" (every target) or {"targets":["<instance id>",...]}`
	if !strings.HasPrefix(msg, "{") {
		return Selection{}, fmt.Errorf("timer message: not a selection; %s", want)
	}
	dec := json.NewDecoder(strings.NewReader(msg))
	dec.DisallowUnknownFields()
	var sel Selection
	if err := dec.Decode(&sel); err != nil {
		return Selection{}, fmt.Errorf("timer message: %s: %w", want, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Selection{}, fmt.Errorf("timer message: data after the selection object; %s", want)
	}
	if len(sel.Targets) == 0 {
		return Selection{}, fmt.Errorf("timer message: the selection names no target; %s", want)
	}
	for _, t := range sel.Targets {
		if strings.TrimSpace(t) == "" {
			return Selection{}, fmt.Errorf("timer message: an empty target id; %s", want)
		}
	}
	return sel, nil
}

// RunReport says what a nightly run fanned out.
type RunReport struct {
	Run     string
	Jobs    []string
	Skipped []provider.Instance
}

// Nightly resolves the run's targets (static list plus discovery by tag) and
// fans out one create message per target. Sends are spread with queue
// delays so no product's create rate limit is exceeded: the i-th target of a
// product is due at i / rate seconds. Job ids derive from the schedule slot
// and the instance, so a timer delivered twice makes no second job.
func (s *Service) Nightly(ctx context.Context, at time.Time, sel Selection) (RunReport, error) {
	slot := job.Slot(at)
	run := "nightly-" + slot
	log := s.log.With("run", run)
	targets, skipped, err := s.resolve(ctx, sel)
	if err != nil {
		return RunReport{Run: run}, err
	}
	if len(targets) > s.cfg.MaxTargets {
		return RunReport{Run: run}, fmt.Errorf("nightly run %s: %d targets exceeds the limit of %d (BACKUPFLOW_MAX_TARGETS); nothing was started",
			run, len(targets), s.cfg.MaxTargets)
	}
	s.fillMethods(ctx, targets)
	if err := s.watchScopeUpdate(ctx, at, targets, len(sel.Targets) > 0); err != nil {
		// Bookkeeping for the staleness alarm: the run goes on without it.
		log.Error("staleness scope not recorded", "err", err)
	}
	report := RunReport{Run: run, Skipped: skipped}
	for _, t := range targets {
		report.Jobs = append(report.Jobs, job.NewID("nightly", slot, t.InstanceID))
	}
	manifest, _ := json.Marshal(struct {
		Jobs    []string            `json:"jobs"`
		Skipped []provider.Instance `json:"skipped,omitempty"`
	}{report.Jobs, skipped})
	// A manifest already there is an earlier try of this run (a failed
	// send failed it, or the timer came twice). Its jobs with an open
	// record were handed off — the record is written after the send — so
	// they are not sent again: resending every job made each retry as
	// likely to fail as the first, at twice the queue traffic.
	handed := map[string]bool{}
	if _, again, err := s.d.Ledger.Get(ctx, keyRun(run)+"manifest"); err == nil && again {
		if keys, err := s.d.Ledger.List(ctx, "open/"); err == nil {
			for _, k := range keys {
				handed[strings.TrimPrefix(k, "open/")] = true
			}
		} else {
			log.Warn("open records not listed; the retry sends every job (duplicates are dropped)", "err", err)
		}
	}
	if err := s.d.Ledger.Put(ctx, keyRun(run)+"manifest", manifest); err != nil {
		return report, wrapLedger(err)
	}
	// The run stays listed until its summary is sent, so the sweep can send
	// a summary whose last job's process died before sending it.
	if err := s.d.Ledger.Put(ctx, keyOpenRun(run), []byte(run)); err != nil {
		return report, wrapLedger(err)
	}
	if err := s.d.Ledger.Put(ctx, keyRun(run)+"count", []byte(strconv.Itoa(len(report.Jobs)))); err != nil {
		return report, wrapLedger(err)
	}
	delays, floors, _ := fanoutPacing(targets)
	var errs []error
	var index *targetIndex
	before := 0 // handed off by an earlier try
	for i, t := range targets {
		delay := delays[i]
		id := report.Jobs[i]
		if handed[id] {
			before++
			continue
		}
		days := t.RetentionDays
		if t.Product == provider.MongoDB && days == 0 {
			if index == nil {
				x := s.cfg.indexTargets()
				index = &x
			}
			days = index.mongoRetentionDays(t.InstanceID, t.Retention)
		}
		m := job.Message{
			JobID: id, Step: job.StepCreate,
			Spec: provider.Spec{Op: provider.Backup, Product: t.Product, Region: t.Region, InstanceID: t.InstanceID,
				Name: job.Name(id), Method: t.Method, Databases: t.Databases, Tables: t.Tables,
				KeepUntilGone: t.KeepUntilGone, RetentionDays: days,
				Individually: t.Individually},
			Created: at, Origin: job.Origin{Source: "timer", Run: run}, PollFloor: floors[t.Product],
		}
		// A lost send fails the run and the platform retries the whole
		// fan-out; retry each send a little first so one transient fault
		// does not cost thousands of repeated sends. A send that did land
		// twice is dropped downstream (same job id, same seq).
		var err error
		for try := 0; try < 3; try++ {
			if err = s.send(ctx, m, delay); err == nil || apierr.KindOf(err) == apierr.Permanent {
				break
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	log.Info("nightly fan-out", "jobs", len(report.Jobs), "skipped", len(skipped), "failedSends", len(errs), "handedOffBefore", before)
	if len(errs) > 0 {
		// The timer is retried by the platform; job ids make the re-run idempotent.
		return report, fmt.Errorf("nightly run %s: %d of %d hand-offs failed: %w", run, len(errs), len(targets), errors.Join(errs...))
	}
	if len(targets) == 0 {
		s.maybeSummarize(ctx, run)
	}
	return report, nil
}

// resolve merges the static targets with the discovered ones.
func (s *Service) resolve(ctx context.Context, sel Selection) ([]Target, []provider.Instance, error) {
	var out []Target
	seen := map[string]bool{}
	add := func(t Target) error {
		if t.Product == "" {
			p, ok := provider.ProductOf(t.InstanceID)
			if !ok {
				return fmt.Errorf("target %q: cannot tell the product from the id; set product", t.InstanceID)
			}
			t.Product = p
		}
		if err := provider.ValidateInstanceID(t.Product, t.InstanceID); err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if seen[t.InstanceID] {
			return nil
		}
		seen[t.InstanceID] = true
		out = append(out, t)
		return nil
	}
	for _, t := range s.cfg.Targets {
		if err := add(t); err != nil {
			return nil, nil, err
		}
	}
	var skipped []provider.Instance
	if s.cfg.DiscoverTag != "" {
		k, v, err := ParseTag(s.cfg.DiscoverTag)
		if err != nil {
			return nil, nil, err
		}
		products := make([]provider.Product, 0, len(s.d.Discoverers))
		for p := range s.d.Discoverers {
			products = append(products, p)
		}
		slices.Sort(products)
		for _, p := range products {
			found, err := s.d.Discoverers[p].Discover(ctx, k, v)
			if err != nil {
				return nil, nil, fmt.Errorf("discover %s tagged %s: %w", p, s.cfg.DiscoverTag, err)
			}
			for _, c := range found {
				if !c.Eligible {
					skipped = append(skipped, c)
					continue
				}
				// A configured target takes the method its instance can do
				// when it names none; one naming a method the instance
				// cannot do is skipped with the reason, not failed nightly.
				if i := slices.IndexFunc(out, func(t Target) bool { return t.InstanceID == c.InstanceID }); i >= 0 {
					if err := c.MethodError(out[i].Method); err != nil {
						c.Eligible, c.Reason = false, err.Error()
						skipped = append(skipped, c)
						out = slices.Delete(out, i, i+1)
						continue
					}
					if out[i].Method == "" && len(c.Methods) > 0 {
						out[i].Method = c.Methods[0]
					}
					continue
				}
				t := Target{InstanceID: c.InstanceID, Product: c.Product, Region: c.Region}
				if len(c.Methods) > 0 {
					t.Method = c.Methods[0]
				}
				if err := add(t); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if len(sel.Targets) > 0 {
		want := map[string]bool{}
		for _, id := range sel.Targets {
			want[id] = true
		}
		kept := out[:0]
		for _, t := range out {
			if want[t.InstanceID] {
				kept = append(kept, t)
				delete(want, t.InstanceID)
			}
		}
		out = kept
		// A narrowed run reports as skipped only what was selected; a
		// selected instance discovery skipped stays skipped with its reason.
		keptSkipped := skipped[:0]
		for _, c := range skipped {
			if want[c.InstanceID] {
				keptSkipped = append(keptSkipped, c)
				delete(want, c.InstanceID)
			}
		}
		skipped = keptSkipped
		for id := range want {
			// A selected id outside the configured scope is still backed up:
			// the operator named it explicitly.
			if err := add(Target{InstanceID: id}); err != nil {
				return nil, nil, err
			}
		}
	}
	return out, skipped, nil
}

// fanoutShare is the share of a product's create limit the fan-out plans
// for: all of it. A retried create takes its slot from the drain's pacer,
// which books every create, planned or retried, into the product's one
// chain of slots, so a retry fills the next free slot and the planned
// creates behind it move back by one. Reserving a tenth of each second for
// retries instead (0.9) left that tenth empty whenever nothing failed: the
// fan-out took 1.11 × the rate-limit bound without faults.
const fanoutShare = 1.0

func keyRun(run string) string { return "runs/" + run + "/" }

// keyRunOutcome names a job's outcome in its run by id and result, so the
// summary learns every result from the run's listing and reads only the
// outcomes it describes (those that did not succeed): reading all of them
// was one ledger round trip per job in a single invocation — 10,000 GETs
// at 10,000 instances, more than an invocation's budget.
func keyRunOutcome(run, jobID string, r Result) string {
	return keyRun(run) + "jobs/" + jobID + "/" + string(r)
}

// fileRunOutcome files the outcome under its run; doing it twice is
// harmless (a job has one outcome, so one key).
func (s *Service) fileRunOutcome(ctx context.Context, o Outcome) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return wrapLedger(s.d.Ledger.Put(ctx, keyRunOutcome(o.Origin.Run, o.JobID, o.Result), b))
}

// recordRunOutcome files the outcome under its run and counts it. Counting
// claims the next free numbered slot (found by binary search, so a run of N
// jobs costs O(log N) reads per outcome, not a listing); the delivery that
// claims the last slot sends the run's single summary.
func (s *Service) recordRunOutcome(ctx context.Context, o Outcome) error {
	if err := s.fileRunOutcome(ctx, o); err != nil {
		return err
	}
	run := o.Origin.Run
	cb, ok, err := s.d.Ledger.Get(ctx, keyRun(run)+"count")
	if err != nil || !ok {
		return wrapLedger(err)
	}
	total, err := strconv.Atoi(string(cb))
	if err != nil || total <= 0 {
		return fmt.Errorf("run %s: bad job count %q", run, cb)
	}
	last, err := s.claimSlot(ctx, run, total)
	if err != nil || !last {
		return err
	}
	s.maybeSummarize(ctx, run)
	return nil
}

// claimSlot claims the first free of the run's total slots and reports
// whether it was the last one.
func (s *Service) claimSlot(ctx context.Context, run string, total int) (bool, error) {
	i, err := s.claimFreeSlot(ctx, keyRun(run), total, nil)
	return i == total-1, err
}

// claimFreeSlot claims the first free of the total numbered slots under
// prefix (slot/000000 …) with value and returns its number, or -1 when
// every slot is taken. The first free one is found by binary search, so
// counting N results costs O(log N) reads each, not a listing.
func (s *Service) claimFreeSlot(ctx context.Context, prefix string, total int, value []byte) (int, error) {
	slot := func(i int) string { return fmt.Sprintf("%sslot/%06d", prefix, i) }
	lo, hi := 0, total
	for lo < hi {
		mid := (lo + hi) / 2
		_, taken, err := s.d.Ledger.Get(ctx, slot(mid))
		if err != nil {
			return -1, wrapLedger(err)
		}
		if taken {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for i := lo; i < total; i++ {
		won, err := s.d.Ledger.Claim(ctx, slot(i), value)
		if err != nil {
			return -1, wrapLedger(err)
		}
		if won {
			return i, nil
		}
	}
	return -1, nil
}

func (s *Service) maybeSummarize(ctx context.Context, run string) {
	log := s.log.With("run", run)
	// Every way out before the summary is sent is logged: a summary that
	// silently never comes is indistinguishable from a run still going.
	mb, ok, err := s.d.Ledger.Get(ctx, keyRun(run)+"manifest")
	if err != nil {
		log.Error("run summary: ledger read of the manifest failed", "err", err)
		return
	}
	if !ok {
		log.Warn("run summary: no manifest for the run")
		return
	}
	var manifest struct {
		Jobs    []string            `json:"jobs"`
		Skipped []provider.Instance `json:"skipped"`
	}
	if err := json.Unmarshal(mb, &manifest); err != nil {
		log.Error("run summary: manifest unreadable", "err", err)
		return
	}
	keys, err := s.d.Ledger.List(ctx, keyRun(run)+"jobs/")
	if err != nil {
		log.Error("run summary: ledger listing of the run's outcomes failed", "err", err)
		return
	}
	if len(keys) < len(manifest.Jobs) {
		return // not every job has ended yet: the last one summarizes
	}
	// The claim is a lease, as for a job's notification: the claimant
	// sends and then marks the summary sent; a claim older than
	// NotifyLease with no mark is a claimant that died, and whoever looks
	// next (the sweep) sends it. Taking the claim as final was how a kill
	// between claim and send lost the night's summary (TestCrashSoak).
	if _, sent, err := s.d.Ledger.Get(ctx, keyRun(run)+"summary-sent"); err != nil || sent {
		if err != nil {
			log.Error("run summary: ledger read of the sent mark failed", "err", err)
			return
		}
		s.closeRun(ctx, run)
		return
	}
	won, err := s.d.Ledger.Claim(ctx, keyRun(run)+"summary", []byte(s.d.Now().UTC().Format(time.RFC3339Nano)))
	if err != nil {
		log.Error("run summary: ledger claim failed", "err", err)
		return
	}
	if !won {
		b, _, err := s.d.Ledger.Get(ctx, keyRun(run)+"summary")
		if err != nil {
			log.Error("run summary: ledger read of the claim failed", "err", err)
			return
		}
		t, perr := time.Parse(time.RFC3339Nano, string(b))
		if perr == nil && s.d.Now().Sub(t) < s.cfg.NotifyLease {
			return // its claimant may still be sending
		}
		log.Warn("run summary claimed but never marked sent; sending it")
	}
	sum := Summary{Run: run, Skipped: manifest.Skipped, DeadWaiting: s.deadWaiting(ctx)}
	for _, k := range keys {
		id, result, _ := strings.Cut(strings.TrimPrefix(k, keyRun(run)+"jobs/"), "/")
		if Result(result) == Succeeded {
			// Successes are only counted (notify.Summary).
			sum.Outcomes = append(sum.Outcomes, Outcome{JobID: id, Result: Succeeded, Origin: job.Origin{Source: "timer", Run: run}})
			continue
		}
		b, ok, err := s.d.Ledger.Get(ctx, k)
		if err != nil || !ok {
			log.Error("run summary: a job's outcome is missing from the summary", "key", k, "found", ok, "err", err)
			continue
		}
		var o Outcome
		if err := json.Unmarshal(b, &o); err != nil {
			log.Error("run summary: a job's outcome is unreadable", "key", k, "err", err)
			continue
		}
		sum.Outcomes = append(sum.Outcomes, o)
	}
	c := sum.Counts()
	log.Info("nightly run finished", "jobs", len(sum.Outcomes), "succeeded", c[Succeeded], "failed", c[Failed],
		"stuck", c[Stuck], "deadLettered", c[DeadLettered], "skipped", len(sum.Skipped))
	if err := s.d.Notifier.Notify(ctx, Notice{Summary: &sum}); err != nil {
		log.Error("run summary not delivered; the sweep sends it again", "err", err)
		return
	}
	if err := s.d.Ledger.Put(ctx, keyRun(run)+"summary-sent", []byte(s.d.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		log.Error("run summary sent but not marked; the sweep may send it again", "err", err)
		return
	}
	s.closeRun(ctx, run)
}

func keyOpenRun(run string) string { return "open-runs/" + run }

// closeRun forgets a summarized run; one left behind is closed by the
// next sweep, which finds the sent mark.
func (s *Service) closeRun(ctx context.Context, run string) {
	if err := s.d.Ledger.Delete(ctx, keyOpenRun(run)); err != nil {
		s.log.Warn("open-run record not removed; the next sweep removes it", "run", run, "err", err)
	}
}

// sweepRuns sends the summary of every run whose jobs have all ended and
// whose summary was never marked sent.
func (s *Service) sweepRuns(ctx context.Context) error {
	keys, err := s.d.Ledger.List(ctx, "open-runs/")
	if err != nil {
		return wrapLedger(err)
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.maybeSummarize(ctx, strings.TrimPrefix(k, "open-runs/"))
	}
	return nil
}
