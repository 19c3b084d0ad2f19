package flow

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

// Target is one database in the nightly scope, from static config.
type Target struct {
	InstanceID string           `json:"instance"`
	Product    provider.Product `json:"product,omitempty"` // inferred from the id when empty
	Region     string           `json:"region,omitempty"`
	Method     string           `json:"method,omitempty"`
	Databases  []string         `json:"databases,omitempty"`
	Tables     []provider.Table `json:"tables,omitempty"`
	// Product options (provider.Spec): sqlserver keepUntilGone, mongodb
	// retentionDays, huawei-rds individually (with databases).
	KeepUntilGone bool `json:"keepUntilGone,omitempty"`
	RetentionDays int  `json:"retentionDays,omitempty"`
	Individually  bool `json:"individually,omitempty"`
	// Retention replaces Config.Retention for this target's backups.
	Retention *retention.Rule `json:"retention,omitempty"`
}

// Validate checks a configured target as its backups' specs will be
// checked, so a wrong option fails the configuration, not every night.
func (t Target) Validate() error {
	p := t.Product
	if p == "" {
		var ok bool
		if p, ok = provider.ProductOf(t.InstanceID); !ok {
			return fmt.Errorf("target %q: cannot tell the product from the id; set product", t.InstanceID)
		}
	}
	name := "backupflow-check" // any legal name: the real one comes from the job id
	spec := provider.Spec{Op: provider.Backup, Product: p, Region: t.Region, InstanceID: t.InstanceID, Name: name,
		Method: t.Method, Databases: t.Databases, Tables: t.Tables,
		KeepUntilGone: t.KeepUntilGone, RetentionDays: t.RetentionDays, Individually: t.Individually}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("target %s: %w", t.InstanceID, err)
	}
	if t.Retention != nil {
		if err := t.Retention.Validate(); err != nil {
			return fmt.Errorf("target %s: %w", t.InstanceID, err)
		}
	}
	return nil
}

// ImportRule maps uploaded keys to the SQL Server instance that imports them.
// Pattern is a path.Match glob over the object key; Instance may be the
// literal "{1}" to take the instance id from the key's second path segment
// (imports/<instance-id>/<file>.bak).
type ImportRule struct {
	Bucket   string `json:"bucket,omitempty"` // empty: any bucket
	Pattern  string `json:"pattern"`
	Instance string `json:"instance"`
}

// DefaultImportRules: imports/<instance-id>/<file>.bak.
var DefaultImportRules = []ImportRule{{Pattern: "imports/*/*.bak", Instance: "{1}"}}

// Match returns the instance an uploaded key maps to.
func (r ImportRule) Match(bucket, key string) (string, bool) {
	if r.Bucket != "" && r.Bucket != bucket {
		return "", false
	}
	ok, err := path.Match(r.Pattern, key)
	if err != nil || !ok {
		return "", false
	}
	if r.Instance != "{1}" {
		return r.Instance, true
	}
	parts := strings.Split(key, "/")
	if len(parts) < 2 || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// Config tunes the flows. The zero value is completed by withDefaults.
type Config struct {
	Targets     []Target
	DiscoverTag string // "key=value"; empty disables discovery
	ImportRules []ImportRule
	MaxTargets  int // fan-out cap; over it the run fails loudly and sends nothing

	// RetryBudget is how long a create keeps retrying transient faults
	// (throttling, busy, ambiguous), counted from its first failed try and
	// never past the job's deadline. Time, not a count of tries: an outage
	// lasts so long whatever the backoff, and a count used up in seconds
	// dead-lettered every create in flight during a 15 s gateway outage.
	RetryBudget      time.Duration
	RetryBase        time.Duration // backoff base for throttling/busy (ambiguous: twice this)
	RetryCap         time.Duration
	PollMin, PollCap time.Duration // bounds of the interval between status checks
	// FirstPoll, when set, replaces the product's typical duration as the
	// first-check estimate for an instance with no history (local runs
	// against an emulator whose jobs take seconds).
	FirstPoll      time.Duration
	PollShare      float64       // next check after this share of the elapsed time (detection latency bound)
	BackupDeadline time.Duration // a backup still running after this is "stuck"
	ImportDeadline time.Duration
	StartLease     time.Duration // how long a start claim blocks a second starter
	// NotifyLease is how long after an outcome's claim a redelivery waits
	// for the claimant's notification before sending it itself. Above the
	// notifier's 10 s post timeout, so a live claimant has sent or failed.
	NotifyLease time.Duration
	PresignTTL  time.Duration
	// QuietSuccess sends nightly successes only in the run summary.
	QuietSuccess bool
	// SweepEvery spaces the sweeps for lost messages that the drain timer
	// asks for every minute.
	SweepEvery time.Duration
	// StaleAfter: a target in scope with no successful backup for longer
	// is notified once, until it recovers (stale.go). StaleEvery spaces
	// the checks, which ride on the sweep.
	StaleAfter, StaleEvery time.Duration
	// Retention is the rule for targets without their own (the empty rule
	// deletes nothing). RetentionShare caps one run's deletions at this
	// share of the whole fleet's backupflow backups (retention.Cap;
	// 0: retention.DefaultShare). RetentionDelete turns deletion on;
	// without it a pass only reports.
	Retention       retention.Rule
	RetentionShare  float64
	RetentionDelete bool
}

func (c Config) withDefaults() Config {
	if len(c.ImportRules) == 0 {
		c.ImportRules = DefaultImportRules
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxTargets == 0 {
		c.MaxTargets = 20000
	}
	// Two hours ride out gateway outages, maintenance windows and a busy
	// instance's own task, and still tell the user within the night.
	def(&c.RetryBudget, 2*time.Hour)
	def(&c.RetryBase, time.Second)
	def(&c.RetryCap, 10*time.Minute)
	def(&c.PollMin, 20*time.Second)
	def(&c.PollCap, 10*time.Minute)
	if c.PollShare == 0 {
		c.PollShare = 0.08
	}
	def(&c.BackupDeadline, 6*time.Hour)
	def(&c.ImportDeadline, 12*time.Hour)
	def(&c.StartLease, 2*time.Minute)
	def(&c.NotifyLease, 30*time.Second)
	def(&c.PresignTTL, time.Hour)
	def(&c.SweepEvery, 10*time.Minute)
	def(&c.StaleAfter, 36*time.Hour)
	def(&c.StaleEvery, time.Hour)
	return c
}

// ParseTag splits "key=value".
func ParseTag(s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("discovery tag %q: want key=value", s)
	}
	return k, v, nil
}

// ruleFor is the retention rule of an instance's backups: its configured
// target's own rule (given, or found by id), else the global one.
func (c Config) ruleFor(instance string, own *retention.Rule) retention.Rule {
	if own != nil {
		return *own
	}
	for _, t := range c.Targets {
		if t.InstanceID == instance && t.Retention != nil {
			return *t.Retention
		}
	}
	return c.Retention
}

// mongoRetentionDays is the BackupRetentionDays a MongoDB backup is created
// with. An explicit retentionDays wins (the request's, else its configured
// target's, so a one-off backup expires as the nightly ones do). Otherwise
// a rule that keeps by age alone (keep-days=D) becomes D, so the cloud
// expires what the rule would: MongoDB lists only the last seven days of
// backups, so backupflow cannot plan deletions there and the cloud's own
// expiry is the rule's only enforcement. A rule with keep-last is not
// expressible as days (a backup beyond D days may be among the last N), so
// it leaves the instance's configured days (0).
func (c Config) mongoRetentionDays(p provider.Product, instance string, explicit int, own *retention.Rule) int {
	if p != provider.MongoDB || explicit != 0 {
		return explicit
	}
	for _, t := range c.Targets {
		if t.InstanceID == instance && t.RetentionDays != 0 {
			return t.RetentionDays
		}
	}
	return mongoDaysOf(c.ruleFor(instance, own))
}

// mongoDaysOf is a rule as BackupRetentionDays (0: the instance's own).
func mongoDaysOf(r retention.Rule) int {
	if r.KeepLast > 0 || r.KeepDays <= 0 {
		return 0
	}
	return min(r.KeepDays, 7300)
}

// targetIndex holds, per instance, the first configured target's
// RetentionDays and Retention that are set: what mongoRetentionDays and
// ruleFor find by scanning Targets. The nightly fan-out asks for every
// MongoDB target, and a scan each time was quadratic in the fleet.
type targetIndex struct {
	days  map[string]int
	rules map[string]*retention.Rule
	def   retention.Rule
}

func (c Config) indexTargets() targetIndex {
	x := targetIndex{days: map[string]int{}, rules: map[string]*retention.Rule{}, def: c.Retention}
	for _, t := range c.Targets {
		if _, ok := x.days[t.InstanceID]; !ok && t.RetentionDays != 0 {
			x.days[t.InstanceID] = t.RetentionDays
		}
		if _, ok := x.rules[t.InstanceID]; !ok && t.Retention != nil {
			x.rules[t.InstanceID] = t.Retention
		}
	}
	return x
}

func (x targetIndex) mongoRetentionDays(instance string, own *retention.Rule) int {
	if d, ok := x.days[instance]; ok {
		return d
	}
	r := x.def
	if own != nil {
		r = *own
	} else if tr, ok := x.rules[instance]; ok {
		r = *tr
	}
	return mongoDaysOf(r)
}
