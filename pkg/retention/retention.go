package retention

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Rule says which successful backupflow backups of a target to keep. A
// backup is kept when any part keeps it: it is among the newest KeepLast,
// or it is younger than KeepDays days. A zero part is unset; a rule with
// both unset deletes nothing.
type Rule struct {
	KeepLast int `json:"keepLast,omitempty"`
	KeepDays int `json:"keepDays,omitempty"`
}

// Enabled reports whether the rule can select anything.
func (r Rule) Enabled() bool { return r.KeepLast > 0 || r.KeepDays > 0 }

// Validate rejects negative parts.
func (r Rule) Validate() error {
	if r.KeepLast < 0 || r.KeepDays < 0 {
		return fmt.Errorf("retention rule %s: keepLast and keepDays must not be negative", r)
	}
	return nil
}

func (r Rule) String() string {
	var parts []string
	if r.KeepLast > 0 {
		parts = append(parts, fmt.Sprintf("keep-last-%d", r.KeepLast))
	}
	if r.KeepDays > 0 {
		parts = append(parts, fmt.Sprintf("keep-%dd", r.KeepDays))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Made is a backup job the ledger holds.
type Made struct {
	JobID    string
	Instance string
	// Name is the backup name the job used (its spec); it must be
	// job.Name(JobID) for the record to count.
	Name string
	// BackupID is the cloud's id of the backup, when the outcome says.
	BackupID string
	// Finished: the job has an outcome; Succeeded: that outcome is success.
	Finished, Succeeded bool
	Created             time.Time
}

// Verdict is the decision on one listed backup.
type Verdict struct {
	Backup provider.CloudBackup `json:"backup"`
	// JobID is the backupflow job that made it; empty when not backupflow's.
	JobID  string `json:"job,omitempty"`
	Delete bool   `json:"delete"`
	Reason string `json:"reason"`
}

// Plan is the decision for one instance, newest backup first.
type Plan struct {
	Instance string    `json:"instance"`
	Rule     Rule      `json:"rule"`
	Items    []Verdict `json:"items"`
	// Owned counts the successful backupflow backups (the base of Cap).
	Owned int `json:"owned"`
}

// Deletes returns the verdicts that delete, oldest first.
func (p Plan) Deletes() []Verdict {
	var out []Verdict
	for i := len(p.Items) - 1; i >= 0; i-- {
		if p.Items[i].Delete {
			out = append(out, p.Items[i])
		}
	}
	return out
}

// Reasons a backup is kept or deleted, as the dry run prints them.
const (
	ReasonAutomatic   = "automatic backup (the cloud's own)"
	ReasonNotOurs     = "not made by backupflow (no ledger job made a backup of this name on this instance)"
	ReasonOtherInst   = "listed for another instance"
	ReasonOtherID     = "the ledger's job made a different backup under this name"
	ReasonAmbiguous   = "several backups carry this job's name and the ledger does not say which it made"
	ReasonNoSuccess   = "the ledger does not record this job's success"
	ReasonNotDone     = "not a successful backup (the cloud lists it %s)"
	ReasonDeleting    = "already being deleted"
	ReasonNewest      = "the newest successful backupflow backup"
	ReasonPending     = "a newer backup (job %s) is not confirmed successful yet"
	ReasonNoRule      = "no retention rule for this target"
	ReasonNoTime      = "the cloud gives no creation time"
	ReasonCap         = "the run's deletion cap (%.0f%% of %d backupflow backups) is reached"
	reasonKeepLast    = "within %s (number %d)"
	reasonKeepDays    = "younger than %d days (%s old)"
	reasonSelectedFmt = "beyond %s"
)

// Decide returns the plan for one instance. made are the ledger's backup
// jobs (any instance: others are ignored); cloud is everything the cloud
// lists for the instance.
func Decide(instance string, rule Rule, made []Made, cloud []provider.CloudBackup, now time.Time) Plan {
	p := Plan{Instance: instance, Rule: rule}
	byName := map[string]Made{}
	var pending []Made
	for _, m := range made {
		if m.Instance != instance || m.JobID == "" || m.Name != job.Name(m.JobID) {
			continue
		}
		byName[m.Name] = m
		if !m.Finished {
			pending = append(pending, m)
		}
	}
	named := map[string]int{}
	for _, b := range cloud {
		if b.Instance == instance && b.Manual {
			named[b.Name]++
		}
	}
	backups := append([]provider.CloudBackup(nil), cloud...)
	sort.SliceStable(backups, func(i, j int) bool {
		if !backups[i].Created.Equal(backups[j].Created) {
			return backups[i].Created.After(backups[j].Created)
		}
		return backups[i].ID > backups[j].ID
	})
	// First pass: ownership and state. owned holds the indexes of
	// successful backupflow backups, newest first.
	var owned []int
	for _, b := range backups {
		v := Verdict{Backup: b}
		m, ok := byName[b.Name]
		switch {
		case b.Instance != instance:
			v.Reason = ReasonOtherInst
		case !b.Manual:
			v.Reason = ReasonAutomatic
		case !ok:
			v.Reason = ReasonNotOurs
		case m.BackupID != "" && m.BackupID != b.ID:
			v.Reason = ReasonOtherID
		case m.BackupID == "" && named[b.Name] > 1:
			v.JobID = m.JobID
			v.Reason = ReasonAmbiguous
		default:
			v.JobID = m.JobID
			switch {
			case b.Deleting:
				v.Reason = ReasonDeleting
			case b.State != provider.Succeeded:
				v.Reason = fmt.Sprintf(ReasonNotDone, b.State)
				if b.State == provider.Running {
					pending = append(pending, m)
				}
			case !m.Succeeded:
				v.Reason = ReasonNoSuccess
			default:
				owned = append(owned, len(p.Items))
			}
		}
		p.Items = append(p.Items, v)
	}
	p.Owned = len(owned)
	// Second pass: the rule over the successful backupflow backups.
	for rank, i := range owned {
		v := &p.Items[i]
		b := v.Backup
		age := now.Sub(b.Created)
		switch {
		case rank == 0:
			v.Reason = ReasonNewest
		case rule.KeepLast > 0 && rank < rule.KeepLast:
			v.Reason = fmt.Sprintf(reasonKeepLast, Rule{KeepLast: rule.KeepLast}, rank+1)
		case rule.KeepDays > 0 && b.Created.IsZero():
			v.Reason = ReasonNoTime
		case rule.KeepDays > 0 && age < time.Duration(rule.KeepDays)*24*time.Hour:
			v.Reason = fmt.Sprintf(reasonKeepDays, rule.KeepDays, age.Round(time.Hour))
		case !rule.Enabled():
			v.Reason = ReasonNoRule
		case len(pending) > 0:
			v.Reason = fmt.Sprintf(ReasonPending, pending[0].JobID)
		default:
			v.Delete = true
			v.Reason = fmt.Sprintf(reasonSelectedFmt, rule)
		}
	}
	return p
}

// DefaultShare is the share of a run's backupflow backups it may delete
// when no other is configured.
const DefaultShare = 0.5

// Cap keeps a run's deletions within share (0 < share ≤ 1) of the
// successful backupflow backups its plans looked at, rounded up: the
// oldest selected backups are deleted first, the rest are kept with
// ReasonCap. It returns how many deletions it withheld.
func Cap(plans []Plan, share float64) int { return CapAfter(plans, share, 0) }

// CapAfter is Cap for a pass that already deleted some backups (an
// earlier hand-off of the same run): they count against the share.
func CapAfter(plans []Plan, share float64, already int) int {
	if share <= 0 || share > 1 || math.IsNaN(share) {
		share = DefaultShare
	}
	owned := 0
	type ref struct{ p, i int }
	var sel []ref
	for pi, p := range plans {
		owned += p.Owned
		for i, v := range p.Items {
			if v.Delete {
				sel = append(sel, ref{pi, i})
			}
		}
	}
	limit := max(int(math.Ceil(share*float64(owned+already)))-already, 0)
	if len(sel) <= limit {
		return 0
	}
	sort.SliceStable(sel, func(a, b int) bool {
		return plans[sel[a].p].Items[sel[a].i].Backup.Created.Before(plans[sel[b].p].Items[sel[b].i].Backup.Created)
	})
	for _, r := range sel[limit:] {
		v := &plans[r.p].Items[r.i]
		v.Delete = false
		v.Reason = fmt.Sprintf(ReasonCap, share*100, owned)
	}
	return len(sel) - limit
}

// Parse reads a rule written as "keep-last=N", "keep-days=D" or both,
// comma-separated; "" and "none" are the empty rule (nothing selected).
func Parse(s string) (Rule, error) {
	var r Rule
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return r, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil || n <= 0 {
			return Rule{}, fmt.Errorf("retention rule: want keep-last=N and/or keep-days=D with positive numbers, comma-separated")
		}
		switch strings.TrimSpace(k) {
		case "keep-last":
			r.KeepLast = n
		case "keep-days":
			r.KeepDays = n
		default:
			return Rule{}, fmt.Errorf("retention rule: unknown part %q (want keep-last or keep-days)", strings.TrimSpace(k))
		}
	}
	return r, nil
}
