package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
