package flow

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Target is one database in the nightly scope, from static config.
type Target struct {
	InstanceID string           `json:"instance"`
	Product    provider.Product `json:"product,omitempty"` // inferred from the id when empty
	Region     string           `json:"region,omitempty"`
	Method     string           `json:"method,omitempty"`
	Databases  []string         `json:"databases,omitempty"`
	Tables     []provider.Table `json:"tables,omitempty"`
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

	MaxAttempts       int           // retries of a throttled/busy step before dead-lettering
	MaxLookupAttempts int           // retries of an ambiguous fault (each after a lookup)
	RetryBase         time.Duration // backoff base for throttling/busy
	RetryCap          time.Duration
	PollMin, PollCap  time.Duration // bounds of the interval between status checks
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
	if c.MaxAttempts == 0 {
		// With a 1 s base doubling to a 10 min cap, 12 tries span about
		// 40 minutes: long enough for a busy instance to finish its task.
		c.MaxAttempts = 12
	}
	if c.MaxLookupAttempts == 0 {
		c.MaxLookupAttempts = 4
	}
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
