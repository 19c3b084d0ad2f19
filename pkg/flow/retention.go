package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

// RetentionQuery asks for retention plans.
type RetentionQuery struct {
	// Instances to plan; empty means the nightly scope (static targets and
	// those discovered by tag).
	Instances []string
	// Rule, when set, replaces every configured rule (a preview of a rule
	// not yet configured).
	Rule *retention.Rule
}

// RetentionReport is what a retention pass would do (or did).
type RetentionReport struct {
	Plans []retention.Plan
	// Withheld counts selected backups kept by the per-run cap.
	Withheld int
	// Skipped are instances that could not be planned, with why; nothing
	// of theirs is deleted.
	Skipped []RetentionSkip
}

// RetentionSkip is an instance left out of a retention pass.
type RetentionSkip struct {
	Instance string
	Reason   string
}

// ErrNoExpirer marks a product whose adapter cannot list and delete backups.
var ErrNoExpirer = errors.New("the product's adapter cannot list and delete backups")

// RetentionPlans decides, for each instance, which backups retention would
// delete and why each other backup is kept. It reads the ledger and lists
// the cloud; it deletes nothing.
func (s *Service) RetentionPlans(ctx context.Context, q RetentionQuery) (RetentionReport, error) {
	var rep RetentionReport
	targets, err := s.retentionTargets(ctx, q.Instances)
	if err != nil {
		return rep, err
	}
	for _, t := range targets {
		rule := s.cfg.Retention
		if t.Retention != nil {
			rule = *t.Retention
		}
		if q.Rule != nil {
			rule = *q.Rule
		}
		p, err := s.planInstance(ctx, t, rule)
		if err != nil {
			if errors.Is(err, ErrNoExpirer) || errors.Is(err, ErrUnknownJob) {
				rep.Skipped = append(rep.Skipped, RetentionSkip{Instance: t.InstanceID, Reason: err.Error()})
				continue
			}
			return rep, fmt.Errorf("retention plan for %s: %w", t.InstanceID, err)
		}
		rep.Plans = append(rep.Plans, p)
	}
	// The cap is one share of all the plans' backups, as the deployed
	// step applies it to the run's whole fleet (allotments).
	rep.Withheld = retention.Cap(rep.Plans, s.cfg.RetentionShare)
	return rep, nil
}

func (s *Service) retentionTargets(ctx context.Context, ids []string) ([]Target, error) {
	if len(ids) == 0 {
		targets, _, err := s.resolve(ctx, Selection{})
		return targets, err
	}
	var out []Target
	for _, id := range ids {
		t := Target{InstanceID: id}
		if i := slices.IndexFunc(s.cfg.Targets, func(c Target) bool { return c.InstanceID == id }); i >= 0 {
			t = s.cfg.Targets[i]
		}
		if t.Product == "" {
			p, ok := provider.ProductOf(id)
			if !ok {
				return nil, fmt.Errorf("instance %q: cannot tell the product from the id", id)
			}
			t.Product = p
		}
		if err := provider.ValidateInstanceID(t.Product, id); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (s *Service) planInstance(ctx context.Context, t Target, rule retention.Rule) (retention.Plan, error) {
	pr, err := s.provider(t.Product)
	if err != nil {
		return retention.Plan{}, err
	}
	ex, ok := pr.(provider.Expirer)
	if !ok {
		return retention.Plan{}, fmt.Errorf("%s: %w", t.Product, ErrNoExpirer)
	}
	made, err := s.madeBackups(ctx, t.InstanceID)
	if err != nil {
		return retention.Plan{}, err
	}
	cloud, err := ex.Backups(ctx, provider.Spec{Op: provider.Backup, Product: t.Product, Region: t.Region, InstanceID: t.InstanceID})
	if err != nil {
		return retention.Plan{}, err
	}
	return retention.Decide(t.InstanceID, rule, made, cloud, s.d.Now()), nil
}

// madeBackups reads the ledger's backup jobs of an instance (through the
// instance index every job is filed under).
func (s *Service) madeBackups(ctx context.Context, instance string) ([]retention.Made, error) {
	jobs, err := s.InstanceJobs(ctx, instance, 0)
	if err != nil {
		return nil, err
	}
	var out []retention.Made
	for _, st := range jobs {
		if st.Spec.Op != provider.Backup || st.Spec.InstanceID != instance {
			continue
		}
		m := retention.Made{JobID: st.JobID, Instance: st.Spec.InstanceID, Name: st.Spec.Name, Created: st.Created}
		_, o, err := s.State(ctx, st.JobID)
		if err != nil {
			return nil, err
		}
		if o != nil {
			m.Finished = true
			m.Succeeded = o.Result == Succeeded
			if m.Succeeded {
				m.BackupID = o.Detail
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// The deployed retention step. The nightly timer queues one retain message
// per target (QueueRetention) with the run; each waits on the work queue
// until the run's summary is sent, so retention always follows the run it
// could expire backups for. It then runs in two phases, because the cap on
// one run's deletions is a share of the whole fleet's backupflow backups,
// which no instance knows alone:
//
//  1. plan: each instance lists its backups and files its plan (how many
//     successful backupflow backups it has, which its rule and floors
//     select); the one that files the run's last plan allots the cap
//     across the fleet, oldest selected backups first, and sends each
//     instance with an allotment its delete phase (report-only: the notice).
//  2. delete (Config.RetentionDelete): the instance plans again, so the
//     floors hold at the moment of deletion, and deletes at most its
//     allotment, a few per hand-off (the delete calls' rate limit).
//
// Every deletion is recorded in the ledger before the call ("deleting")
// and after it ("deleted"): a crash between the two re-issues the delete
// of that same backup (harmless: a gone backup counts as deleted), and a
// backup recorded deleted is never selected again, though the cloud may
// list it for a while. Duplicated deliveries are dropped by the done
// markers like any step's; plans and results are counted by slot claims
// (countIn), so finding the last costs O(log N) per instance.
//
// Records (under retention/):
//   - runs/<run>/count: how many instances the run's retention covers.
//   - runs/<run>/plan/items/<instance>: the instance's planRecord, counted
//     in runs/<run>/plan/slot/<n>; the last slot's claimant allots.
//   - runs/<run>/deletes: how many instances have a delete phase.
//   - runs/<run>/result/items/<instance>: a delete phase's RetentionResult,
//     counted likewise; the last slot's claimant sends the notice.
//   - runs/<run>/notice: claimed by the one that notifies.
//   - deleted/<instance>/<backup id>: a Deletion, before and after the call.
//   - pending/<instance>/<backup id>: while the Deletion says "deleting".

// maxDeletesPerStep bounds the delete calls of one hand-off: within every
// product's per-second limit, so one hand-off never throttles itself.
const maxDeletesPerStep = 4

// summaryWait is how long a retain step waits for its run's summary
// before planning anyway (the floors still hold every backup not confirmed).
const summaryWait = 12 * time.Hour

// RetentionResult is what one instance's retention step did.
type RetentionResult struct {
	Instance string `json:"instance"`
	Run      string `json:"run"`
	// Report is true when deletion is off: Selected were not deleted.
	Report   bool   `json:"report,omitempty"`
	Selected int    `json:"selected"`
	Expired  int    `json:"expired"`
	Bytes    int64  `json:"bytes,omitempty"` // freed, where the cloud reports sizes
	Withheld int    `json:"withheld,omitempty"`
	Error    string `json:"error,omitempty"`
}

// RetentionNotice is a run's retention summary, sent once its last
// instance is done. It is a notice of its own rather than a line of the
// nightly Summary because retention runs after the summary is sent (the
// summary is what confirms tonight's backups, the floor that lets last
// night's go): the summary cannot count expiries that have not happened,
// and carrying them into the next night's summary would report them a
// day late, under the wrong run, and never for a last night.
type RetentionNotice struct {
	Run     string
	Report  bool // deletion off: the counts are what would be expired
	Results []RetentionResult
}

// Totals adds the results up.
func (n RetentionNotice) Totals() (selected, expired int, bytes int64, failed int) {
	for _, r := range n.Results {
		selected += r.Selected
		expired += r.Expired
		bytes += r.Bytes
		if r.Error != "" {
			failed++
		}
	}
	return
}

// Deletion is the ledger's record of one backup's deletion.
type Deletion struct {
	State    string    `json:"state"` // deleting | deleted
	Instance string    `json:"instance"`
	BackupID string    `json:"backup"`
	Name     string    `json:"name"`
	Job      string    `json:"job"` // the backupflow job that made it
	Run      string    `json:"run"`
	Size     int64     `json:"size,omitempty"`
	At       time.Time `json:"at"`
}

func keyRetRun(run string) string { return "retention/runs/" + run + "/" }
func keyDeletion(instance, backupID string) string {
	return "retention/deleted/" + instance + "/" + backupID
}

// RetentionConfigured reports whether any rule could select a backup.
func (s *Service) RetentionConfigured() bool {
	if s.cfg.Retention.Enabled() {
		return true
	}
	return slices.ContainsFunc(s.cfg.Targets, func(t Target) bool { return t.Retention != nil && t.Retention.Enabled() })
}

// QueueRetention queues the retention step of a nightly run: one message
// that waits on the work queue for the run's summary, then fans out one
// retain step per target. Idempotent: the ids derive from the run.
func (s *Service) QueueRetention(ctx context.Context, run string, at time.Time) error {
	m := job.Message{JobID: job.NewID("retention", run), Step: job.StepRetain, RetainRun: run, Created: at,
		Deadline: at.Add(summaryWait + 12*time.Hour), Origin: job.Origin{Source: "timer"}}
	// The run's jobs take about the typical backup duration at least.
	return s.send(ctx, m, provider.LimitsOf(provider.MySQL, provider.Backup).TypicalDuration)
}

// retainRun waits for the run's summary, then fans out.
func (s *Service) retainRun(ctx context.Context, m job.Message) error {
	if _, sent, err := s.d.Ledger.Get(ctx, keyRun(m.RetainRun)+"summary-sent"); err != nil {
		return wrapLedger(err)
	} else if !sent && s.d.Now().Sub(m.Created) < summaryWait {
		return s.requeue(ctx, m, 10*time.Minute)
	}
	targets, _, err := s.resolve(ctx, Selection{})
	if err != nil {
		return s.retainRetry(ctx, m, RetentionResult{Run: m.RetainRun}, err)
	}
	if err := s.d.Ledger.Put(ctx, keyRetRun(m.RetainRun)+"count", []byte(strconv.Itoa(len(targets)))); err != nil {
		return wrapLedger(err)
	}
	index := map[provider.Product]int{}
	for _, t := range targets {
		n := job.Message{JobID: job.NewID("retention", m.RetainRun, t.InstanceID), Step: job.StepRetain, RetainRun: m.RetainRun,
			Created: m.Created, Deadline: m.Deadline, Origin: m.Origin,
			Spec: provider.Spec{Op: provider.Backup, Product: t.Product, Region: t.Region, InstanceID: t.InstanceID}}
		// One instance a second per product: each deletes a few backups
		// per hand-off, well within every delete call's limit.
		delay := time.Duration(index[t.Product]) * time.Second
		index[t.Product]++
		if err := s.send(ctx, n, delay); err != nil {
			return err
		}
	}
	loggerFrom(ctx, s.log).Info("retention fanned out", "run", m.RetainRun, "instances", len(targets))
	return s.closeRetainStep(ctx, m, Succeeded, fmt.Sprintf("retention fanned out to %d instances", len(targets)))
}

// retain is the retain step of one instance: its plan phase, or (with an
// allotment) its delete phase.
func (s *Service) retain(ctx context.Context, m job.Message) error {
	if m.Spec.InstanceID == "" {
		return s.retainRun(ctx, m)
	}
	if m.RetainAllot > 0 {
		return s.retainDelete(ctx, m)
	}
	t := Target{InstanceID: m.Spec.InstanceID, Product: m.Spec.Product, Region: m.Spec.Region}
	rec := planRecord{Instance: t.InstanceID, Product: t.Product, Region: t.Region}
	p, err := s.planInstance(ctx, t, s.ruleOf(t.InstanceID))
	if err == nil {
		err = s.confirmDeletions(ctx, p)
	}
	if err == nil {
		err = s.skipDeleted(ctx, &p)
	}
	if err != nil {
		if errors.Is(err, ErrNoExpirer) || apierr.KindOf(err) == apierr.Permanent {
			rec.Error = err.Error()
			return s.planDone(ctx, m, rec)
		}
		return s.retainRetry(ctx, m, RetentionResult{Instance: t.InstanceID, Run: m.RetainRun}, err)
	}
	rec.Owned = p.Owned
	for _, v := range p.Deletes() {
		rec.Selected = append(rec.Selected, retention.Verdict{Backup: provider.CloudBackup{ID: v.Backup.ID, Created: v.Backup.Created}, Delete: true})
	}
	return s.planDone(ctx, m, rec)
}

func (s *Service) ruleOf(instance string) retention.Rule {
	rule := s.cfg.Retention
	for _, c := range s.cfg.Targets {
		if c.InstanceID == instance && c.Retention != nil {
			rule = *c.Retention
		}
	}
	return rule
}

// planRecord is an instance's plan as the run's allotment needs it.
type planRecord struct {
	Instance string           `json:"instance"`
	Product  provider.Product `json:"product"`
	Region   string           `json:"region,omitempty"`
	Owned    int              `json:"owned"`
	// Selected are the backups the instance's rule and floors select,
	// oldest first (id and creation time only).
	Selected []retention.Verdict `json:"selected,omitempty"`
	Error    string              `json:"error,omitempty"`
}

// planDone files the instance's plan and counts it; the one that counts
// the run's last plan allots the fleet-wide cap.
func (s *Service) planDone(ctx context.Context, m job.Message, rec planRecord) error {
	total, err := s.retainCount(ctx, m.RetainRun, "count")
	if err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	check, err := s.countIn(ctx, keyRetRun(m.RetainRun)+"plan/", rec.Instance, b, total)
	if err != nil {
		return err
	}
	if check {
		if err := s.allot(ctx, m); err != nil {
			return err
		}
	}
	r, detail := Succeeded, fmt.Sprintf("retention planned: %d selected of %d", len(rec.Selected), rec.Owned)
	if rec.Error != "" {
		r, detail = Failed, rec.Error
	}
	return s.closeRetainStep(ctx, m, r, detail)
}

func (s *Service) retainCount(ctx context.Context, run, name string) (int, error) {
	cb, ok, err := s.d.Ledger.Get(ctx, keyRetRun(run)+name)
	if err != nil || !ok {
		return 0, fmt.Errorf("retention of %s: no %s record (found %v): %w", run, name, ok, wrapLedger(err))
	}
	n, err := strconv.Atoi(string(cb))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("retention of %s: bad %s %q", run, name, cb)
	}
	return n, nil
}

// plans reads the run's plan records once all are filed (nil before).
func (s *Service) plans(ctx context.Context, run string) ([]planRecord, error) {
	total, err := s.retainCount(ctx, run, "count")
	if err != nil {
		return nil, err
	}
	recs, err := s.counted(ctx, keyRetRun(run)+"plan/", total)
	if err != nil || recs == nil {
		return nil, err
	}
	out := make([]planRecord, 0, len(recs))
	for _, b := range recs {
		var r planRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("retention plan of %s: %w", run, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// allotments applies the run's cap across the whole fleet at once: one
// share of every instance's successful backupflow backups, rounded up
// once, the oldest selected backups of the fleet first. Rounding up per
// instance instead would let a fleet of small instances delete far more
// than the share (ten instances of three: one each at 10 %, ten in all,
// where the fleet's 10 % of thirty is three).
func allotments(recs []planRecord, share float64) []int {
	plans := make([]retention.Plan, len(recs))
	for i, r := range recs {
		plans[i] = retention.Plan{Instance: r.Instance, Owned: r.Owned, Items: slices.Clone(r.Selected)}
	}
	retention.Cap(plans, share)
	out := make([]int, len(recs))
	for i, p := range plans {
		out[i] = len(p.Deletes())
	}
	return out
}

// allot runs once every plan of the run is filed. Report-only, it sends
// the run's notice (what would be expired within the cap); deleting, it
// sends each instance with an allotment its delete phase. Whoever runs it
// computes the same allotments from the same records, and the delete
// phases' ids derive from the run and instance, so running it twice sends
// nothing twice that is not dropped.
func (s *Service) allot(ctx context.Context, m job.Message) error {
	recs, err := s.plans(ctx, m.RetainRun)
	if err != nil || recs == nil {
		return err
	}
	allot := allotments(recs, s.cfg.RetentionShare)
	var results []RetentionResult
	deletes := 0
	for i, r := range recs {
		if s.cfg.RetentionDelete && allot[i] > 0 {
			deletes++
			continue
		}
		results = append(results, planResult(m.RetainRun, r, allot[i], !s.cfg.RetentionDelete))
	}
	if deletes == 0 {
		return s.retentionNotice(ctx, m.RetainRun, results)
	}
	if err := s.d.Ledger.Put(ctx, keyRetRun(m.RetainRun)+"deletes", []byte(strconv.Itoa(deletes))); err != nil {
		return wrapLedger(err)
	}
	index := map[provider.Product]int{}
	for i, r := range recs {
		if allot[i] == 0 {
			continue
		}
		n := job.Message{JobID: job.NewID("retention-delete", m.RetainRun, r.Instance), Step: job.StepRetain, RetainRun: m.RetainRun,
			RetainAllot: allot[i], Created: m.Created, Deadline: m.Deadline, Origin: m.Origin,
			Spec: provider.Spec{Op: provider.Backup, Product: r.Product, Region: r.Region, InstanceID: r.Instance}}
		delay := time.Duration(index[r.Product]) * time.Second
		index[r.Product]++
		if err := s.send(ctx, n, delay); err != nil {
			return err
		}
	}
	loggerFrom(ctx, s.log).Info("retention allotted", "run", m.RetainRun, "instances", len(recs), "deleting", deletes)
	return nil
}

// planResult is the result of an instance that has no delete phase.
func planResult(run string, r planRecord, allot int, report bool) RetentionResult {
	res := RetentionResult{Instance: r.Instance, Run: run, Report: report, Withheld: len(r.Selected) - allot, Error: r.Error}
	if report {
		res.Selected = allot
	}
	return res
}

// retainDelete is an instance's delete phase: it plans again (the floors
// hold at the moment of deletion, not only when allotted) and deletes, a
// few per hand-off, at most its allotment less what this run already
// recorded deleted there.
func (s *Service) retainDelete(ctx context.Context, m job.Message) error {
	log := loggerFrom(ctx, s.log).With("run", m.RetainRun, "instance", m.Spec.InstanceID)
	now := s.d.Now()
	res := RetentionResult{Instance: m.Spec.InstanceID, Run: m.RetainRun, Selected: m.RetainAllot}
	t := Target{InstanceID: m.Spec.InstanceID, Product: m.Spec.Product, Region: m.Spec.Region}
	p, err := s.planInstance(ctx, t, s.ruleOf(t.InstanceID))
	if err == nil {
		err = s.confirmDeletions(ctx, p)
	}
	if err == nil {
		err = s.skipDeleted(ctx, &p)
	}
	if err != nil {
		if errors.Is(err, ErrNoExpirer) || apierr.KindOf(err) == apierr.Permanent {
			res.Error = err.Error()
			return s.retainDone(ctx, m, res)
		}
		return s.retainRetry(ctx, m, res, err)
	}
	if err := s.countExpired(ctx, &res); err != nil {
		return err
	}
	dels := p.Deletes()
	if left := max(m.RetainAllot-res.Expired, 0); len(dels) > left {
		dels = dels[:left]
	}
	pr, _ := s.provider(t.Product)
	ex := pr.(provider.Expirer)
	spec := provider.Spec{Op: provider.Backup, Product: t.Product, Region: t.Region, InstanceID: t.InstanceID}
	done := 0
	for _, v := range dels {
		if done == maxDeletesPerStep {
			next := m
			next.Attempt, next.Retrying = 0, time.Time{}
			return s.requeue(ctx, next, time.Second)
		}
		d := Deletion{State: "deleting", Instance: t.InstanceID, BackupID: v.Backup.ID, Name: v.Backup.Name,
			Job: v.JobID, Run: m.RetainRun, Size: v.Backup.Size, At: now.UTC()}
		b, _ := json.Marshal(d)
		// The pending mark first: a record without one would never be
		// settled, a mark without a record is dropped.
		if err := s.d.Ledger.Put(ctx, keyPending(t.InstanceID, v.Backup.ID), nil); err != nil {
			return wrapLedger(err)
		}
		if _, err := s.d.Ledger.Claim(ctx, keyDeletion(t.InstanceID, v.Backup.ID), b); err != nil {
			return wrapLedger(err)
		}
		crashPoint("retention-before-delete")
		if err := ex.Delete(ctx, spec, []provider.CloudBackup{v.Backup}); err != nil {
			if apierr.KindOf(err) == apierr.Permanent {
				log.Error("retention delete refused", "backup", v.Backup.ID, "code", apierr.Code(err), "err", err)
				res.Error = err.Error()
				break
			}
			return s.retainRetry(ctx, m, res, err)
		}
		crashPoint("retention-after-delete")
		d.State, d.At = "deleted", s.d.Now().UTC()
		b, _ = json.Marshal(d)
		if err := s.d.Ledger.Put(ctx, keyDeletion(t.InstanceID, v.Backup.ID), b); err != nil {
			return wrapLedger(err)
		}
		s.settled(ctx, t.InstanceID, v.Backup.ID)
		log.Info("retention deleted a backup", "backup", v.Backup.ID, "name", v.Backup.Name, "job", v.JobID, "reason", v.Reason)
		done++
	}
	res.Expired, res.Bytes = 0, 0
	if err := s.countExpired(ctx, &res); err != nil {
		return err
	}
	return s.retainDone(ctx, m, res)
}

// keyPending marks a deletion recorded "deleting" and not yet "deleted",
// so finding the ones a crash left costs a listing of the few, not a read
// of every deletion ever recorded.
func keyPending(instance, backupID string) string {
	return "retention/pending/" + instance + "/" + backupID
}

// settled drops a pending mark; one left behind is dropped by the next
// confirmDeletions, which finds the record "deleted".
func (s *Service) settled(ctx context.Context, instance, backupID string) {
	if err := s.d.Ledger.Delete(ctx, keyPending(instance, backupID)); err != nil {
		s.log.Warn("retention pending mark not removed; the next pass removes it", "instance", instance, "backup", backupID, "err", err)
	}
}

// confirmDeletions settles the "deleting" records a crash left between the
// record and the cloud's answer. A backup the cloud no longer lists, or
// lists as being deleted, was deleted: its record says so now, under the
// run that asked (which counts it). Left "deleting", it was forgotten: the
// pass that crashed after the call found it gone, never selected it again
// and counted nothing. A backup still listed is left to the delete loop,
// which re-issues the delete of that same backup if it is still selected.
func (s *Service) confirmDeletions(ctx context.Context, p retention.Plan) error {
	keys, err := s.d.Ledger.List(ctx, "retention/pending/"+p.Instance+"/")
	if err != nil || len(keys) == 0 {
		return wrapLedger(err)
	}
	listed := map[string]provider.CloudBackup{}
	for _, v := range p.Items {
		listed[v.Backup.ID] = v.Backup
	}
	for _, k := range keys {
		id := strings.TrimPrefix(k, "retention/pending/"+p.Instance+"/")
		b, ok, err := s.d.Ledger.Get(ctx, keyDeletion(p.Instance, id))
		if err != nil {
			return wrapLedger(err)
		}
		var d Deletion
		if ok && json.Unmarshal(b, &d) == nil && d.State == "deleting" {
			if cb, still := listed[id]; still && !cb.Deleting {
				continue
			}
			d.State, d.At = "deleted", s.d.Now().UTC()
			b, _ = json.Marshal(d)
			if err := s.d.Ledger.Put(ctx, keyDeletion(p.Instance, id), b); err != nil {
				return wrapLedger(err)
			}
			s.log.Info("retention confirmed a deletion a crash left unrecorded", "instance", p.Instance, "backup", id, "run", d.Run)
		}
		s.settled(ctx, p.Instance, id)
	}
	return nil
}

// skipDeleted keeps what the ledger records as deleted (the cloud may list
// a backup while it removes it) out of a plan's deletions.
func (s *Service) skipDeleted(ctx context.Context, p *retention.Plan) error {
	keys, err := s.d.Ledger.List(ctx, "retention/deleted/"+p.Instance+"/")
	if err != nil {
		return wrapLedger(err)
	}
	if len(keys) == 0 {
		return nil
	}
	for i := range p.Items {
		v := &p.Items[i]
		if !v.Delete || !slices.Contains(keys, keyDeletion(p.Instance, v.Backup.ID)) {
			continue
		}
		b, _, err := s.d.Ledger.Get(ctx, keyDeletion(p.Instance, v.Backup.ID))
		if err != nil {
			return wrapLedger(err)
		}
		var d Deletion
		if json.Unmarshal(b, &d) == nil && d.State == "deleted" {
			v.Delete = false
			v.Reason = fmt.Sprintf("deleted by retention of %s; the cloud is still removing it", d.Run)
		}
	}
	return nil
}

// countExpired counts the run's recorded deletions of the instance.
func (s *Service) countExpired(ctx context.Context, res *RetentionResult) error {
	keys, err := s.d.Ledger.List(ctx, "retention/deleted/"+res.Instance+"/")
	if err != nil {
		return wrapLedger(err)
	}
	for _, k := range keys {
		b, _, err := s.d.Ledger.Get(ctx, k)
		if err != nil {
			return wrapLedger(err)
		}
		var d Deletion
		if json.Unmarshal(b, &d) == nil && d.Run == res.Run && d.State == "deleted" {
			res.Expired++
			res.Bytes += d.Size
		}
	}
	return nil
}

// retainRetry retries a transient fault with backoff within the retry
// budget, then ends the instance's step with the error.
func (s *Service) retainRetry(ctx context.Context, m job.Message, res RetentionResult, cause error) error {
	now := s.d.Now()
	next := m
	next.Attempt++
	if next.Retrying.IsZero() {
		next.Retrying = now
	}
	if now.Sub(next.Retrying) >= s.cfg.RetryBudget {
		res.Error = fmt.Sprintf("still failing after %s of retries: %v", now.Sub(next.Retrying).Round(time.Second), cause)
		switch {
		case m.Spec.InstanceID == "":
			loggerFrom(ctx, s.log).Error("retention of the run given up", "run", m.RetainRun, "err", res.Error)
			return s.closeRetainStep(ctx, m, Failed, res.Error)
		case m.RetainAllot == 0:
			return s.planDone(ctx, m, planRecord{Instance: m.Spec.InstanceID, Product: m.Spec.Product, Region: m.Spec.Region, Error: res.Error})
		}
		return s.retainDone(ctx, m, res)
	}
	loggerFrom(ctx, s.log).Info("retention will retry", "kind", apierr.KindOf(cause).String(), "try", next.Attempt, "code", apierr.Code(cause))
	return s.requeue(ctx, next, s.backoff(next.Attempt-1, apierr.KindOf(cause)))
}

// retainDone records a delete phase's one result; the last of the run's
// delete phases to finish sends the run's retention notice.
func (s *Service) retainDone(ctx context.Context, m job.Message, res RetentionResult) error {
	total, err := s.retainCount(ctx, m.RetainRun, "deletes")
	if err != nil {
		return err
	}
	b, _ := json.Marshal(res)
	prefix := keyRetRun(m.RetainRun) + "result/"
	check, err := s.countIn(ctx, prefix, m.Spec.InstanceID, b, total)
	if err != nil {
		return err
	}
	loggerFrom(ctx, s.log).Info("retention finished", "run", m.RetainRun, "instance", res.Instance,
		"selected", res.Selected, "expired", res.Expired, "bytes", res.Bytes, "err", res.Error)
	if check {
		if err := s.deletedNotice(ctx, m.RetainRun, prefix, total); err != nil {
			return err
		}
	}
	r := Succeeded
	if res.Error != "" {
		r = Failed
	}
	return s.closeRetainStep(ctx, m, r, fmt.Sprintf("retention: %d allotted, %d expired %s", res.Selected, res.Expired, res.Error))
}

// deletedNotice sends the notice of a run with delete phases once every
// one has filed its result: theirs, and the plan's for the rest.
func (s *Service) deletedNotice(ctx context.Context, run, prefix string, total int) error {
	recs, err := s.counted(ctx, prefix, total)
	if err != nil || recs == nil {
		return err
	}
	plans, err := s.plans(ctx, run)
	if err != nil || plans == nil {
		return err
	}
	byInst := map[string]RetentionResult{}
	for _, b := range recs {
		var r RetentionResult
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("retention result of %s: %w", run, err)
		}
		byInst[r.Instance] = r
	}
	allot := allotments(plans, s.cfg.RetentionShare)
	results := make([]RetentionResult, 0, len(plans))
	for i, p := range plans {
		r, ok := byInst[p.Instance]
		if !ok {
			r = planResult(run, p, allot[i], false)
		} else {
			r.Withheld = len(p.Selected) - allot[i]
		}
		results = append(results, r)
	}
	return s.retentionNotice(ctx, run, results)
}

// closeRetainStep ends a retain step like a job: an outcome and its
// notified mark (no notice of its own), so a duplicate is dropped and the
// sweep forgets its open record.
func (s *Service) closeRetainStep(ctx context.Context, m job.Message, r Result, detail string) error {
	o := outcomeOf(m, r, s.d.Now())
	o.Detail = detail
	ob, _ := json.Marshal(o)
	if _, err := s.d.Ledger.Claim(ctx, keyOutcome(m.JobID), ob); err != nil {
		return wrapLedger(err)
	}
	if _, err := s.d.Ledger.Claim(ctx, keyNotified(m.JobID), []byte(s.d.Now().UTC().Format(time.RFC3339))); err != nil {
		return wrapLedger(err)
	}
	s.closeOpen(ctx, m.JobID)
	return nil
}

// countIn files member's record under prefix+"items/" and counts it by
// claiming one of total numbered slots under prefix+"slot/". It reports
// whether the caller should look for completion: it claimed the last slot,
// or found none free. Only the one who files the record claims a slot; a
// duplicate that finds the record filed claims one only when no
// prefix+"slotted/" mark says its twin did (a twin that died between the
// two), and a duplicate of the one that had to check checks again (its
// twin may have died checking). A slot claimed twice can only make a check early — the
// caller verifies by listing, once — and whoever then finds every slot
// taken checks again, so completion is never missed. Each member costs
// O(log total) reads; a run of N members costs O(N), not a listing per
// member (the O(N²) this replaced).
func (s *Service) countIn(ctx context.Context, prefix, member string, value []byte, total int) (bool, error) {
	won, err := s.d.Ledger.Claim(ctx, prefix+"items/"+member, value)
	if err != nil {
		return false, wrapLedger(err)
	}
	if !won {
		// The mark says whether the twin had to check: a twin that died
		// before its check finished leaves it to this one.
		if mark, ok, err := s.d.Ledger.Get(ctx, prefix+"slotted/"+member); err != nil || ok {
			return string(mark) == "check", wrapLedger(err)
		}
	}
	i, err := s.claimFreeSlot(ctx, prefix, total, []byte(member))
	if err != nil {
		return false, err
	}
	// No free slot: every member counted, maybe one twice — check.
	check := i < 0 || i == total-1
	mark := []byte("counted")
	if check {
		mark = []byte("check")
	}
	return check, wrapLedger(s.d.Ledger.Put(ctx, prefix+"slotted/"+member, mark))
}

// counted lists the records countIn filed under prefix, or nil while fewer
// than total are filed.
func (s *Service) counted(ctx context.Context, prefix string, total int) ([][]byte, error) {
	keys, err := s.d.Ledger.List(ctx, prefix+"items/")
	if err != nil || len(keys) < total {
		return nil, wrapLedger(err)
	}
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		b, ok, err := s.d.Ledger.Get(ctx, k)
		if err != nil || !ok {
			return nil, fmt.Errorf("retention record %s (found %v): %w", k, ok, wrapLedger(err))
		}
		out = append(out, b)
	}
	return out, nil
}

// retentionNotice sends the run's one retention notice once every
// instance's result is filed: the notice claim makes it one under any
// number of duplicate checks.
func (s *Service) retentionNotice(ctx context.Context, run string, results []RetentionResult) error {
	if _, sent, err := s.d.Ledger.Get(ctx, keyRetRun(run)+"notice-sent"); err != nil || sent {
		return wrapLedger(err)
	}
	n := RetentionNotice{Run: run, Report: !s.cfg.RetentionDelete, Results: results}
	won, err := s.d.Ledger.Claim(ctx, keyRetRun(run)+"notice", nil)
	if err != nil || !won {
		return wrapLedger(err)
	}
	if err := s.d.Notifier.Notify(ctx, Notice{Retention: &n}); err != nil {
		// The claim stands: a retention notice is worth one try, not a
		// chance of two (the run's backups were already summarized).
		s.log.Error("retention notice not delivered", "run", run, "err", err)
		return nil
	}
	return wrapLedger(s.d.Ledger.Put(ctx, keyRetRun(run)+"notice-sent", []byte(s.d.Now().UTC().Format(time.RFC3339))))
}

// RetentionText is the chat preview of an instance's retention: what the
// configured rule would delete now and why the rest is kept, at most
// limit backups (those to delete first).
func (s *Service) RetentionText(ctx context.Context, instance string, limit int) (string, error) {
	rep, err := s.RetentionPlans(ctx, RetentionQuery{Instances: []string{instance}})
	if err != nil {
		return "", err
	}
	if len(rep.Skipped) > 0 {
		return fmt.Sprintf("No retention preview for %s: %s.", instance, rep.Skipped[0].Reason), nil
	}
	p := rep.Plans[0]
	if err := s.skipDeleted(ctx, &p); err != nil {
		return "", err
	}
	mode := "report only: nothing is deleted until BACKUPFLOW_RETENTION_DELETE=true"
	if s.cfg.RetentionDelete {
		mode = "deletion on"
	}
	dels := p.Deletes()
	var b strings.Builder
	fmt.Fprintf(&b, "Retention of %s (rule %s; %s): %d of %d backups would be deleted (%d made by backupflow).",
		instance, p.Rule, mode, len(dels), len(p.Items), p.Owned)
	shown := 0
	line := func(v retention.Verdict) {
		verb := "keep"
		if v.Delete {
			verb = "delete"
		}
		name := v.Backup.Name
		if name == "" {
			name = "(automatic)"
		}
		fmt.Fprintf(&b, "\n%s %s %s %s: %s", verb, v.Backup.ID, name, v.Backup.Created.UTC().Format("2006-01-02 15:04Z"), v.Reason)
		shown++
	}
	for _, v := range dels {
		if shown < limit {
			line(v)
		}
	}
	for _, v := range p.Items {
		if !v.Delete && shown < limit {
			line(v)
		}
	}
	if rest := len(p.Items) - shown; rest > 0 {
		fmt.Fprintf(&b, "\n… and %d more: backupflow retention --instance %s --dry-run", rest, instance)
	}
	return b.String(), nil
}
