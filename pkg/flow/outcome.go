package flow

import (
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Result is a job's single outcome.
type Result string

const (
	Succeeded    Result = "succeeded"
	Failed       Result = "failed"
	Stuck        Result = "stuck"         // still running at its deadline
	DeadLettered Result = "dead-lettered" // retries exhausted or undecodable
)

// Outcome is what the ledger records once per job and what is notified.
type Outcome struct {
	JobID     string           `json:"job"`
	Result    Result           `json:"result"`
	Op        provider.Op      `json:"op"`
	Product   provider.Product `json:"product"`
	Instance  string           `json:"instance"`
	Name      string           `json:"name,omitempty"`
	Ref       provider.Ref     `json:"ref,omitempty"`
	Object    string           `json:"object,omitempty"` // bucket/key for imports
	Code      string           `json:"code,omitempty"`
	Message   string           `json:"message,omitempty"`
	RequestID string           `json:"requestId,omitempty"`
	Detail    string           `json:"detail,omitempty"`
	Attempts  int              `json:"attempts,omitempty"` // tries at starting the cloud job: 1 when the first took
	Polls     int              `json:"polls,omitempty"`
	Created   time.Time        `json:"created"`
	// Started is when the cloud job was started (or adopted): after its
	// queue wait and the pacer's slot; zero for a job that never started.
	Started  time.Time  `json:"started,omitzero"`
	Finished time.Time  `json:"finished"`
	Origin   job.Origin `json:"origin"`
}

// Duration is the time from cause to outcome; 0 when either end is unknown,
// never the span from the zero time (which printed "Took: 2562047h…").
func (o Outcome) Duration() time.Duration {
	if o.Created.IsZero() || o.Finished.IsZero() || o.Finished.Before(o.Created) {
		return 0
	}
	return o.Finished.Sub(o.Created)
}

// Notice is one notification: a job's outcome, or a nightly run's summary.
type Notice struct {
	Outcome *Outcome // set for a job
	Summary *Summary // set for a run
	Stale   *Stale   // set for a target with no recent successful backup
	// Retention is set for a run's retention summary.
	Retention *RetentionNotice
}

// Summary is the one message per nightly run.
type Summary struct {
	Run      string
	Outcomes []Outcome
	Skipped  []provider.Instance // discovered but not eligible
	// DeadWaiting counts the ledger's dead letters neither replayed nor
	// dropped, this run's and earlier ones (-1: the ledger could not say).
	DeadWaiting int
}

// Counts tallies the outcomes by result.
func (s Summary) Counts() map[Result]int {
	m := map[Result]int{}
	for _, o := range s.Outcomes {
		m[o.Result]++
	}
	return m
}
