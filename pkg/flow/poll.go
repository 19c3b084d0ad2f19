package flow

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// The poll plan. A fixed interval either wastes calls on long jobs or notices
// short ones late. Nightly backups of one instance take about as long each
// night, so the first check goes just before the duration measured last time,
// and later checks come after a fixed share of the elapsed time: detection
// latency stays within that share of the job's duration while the number of
// checks grows only logarithmically.
//
// Measured with `backupflow simulate` (docs/benchmarks.md): the history must
// be the job's duration, not the time we noticed its end — that adds the
// detection latency every night and, when the first check already finds the
// job done, says nothing about how short it was. So a first run (no history)
// checks early, at a quarter of the product's typical duration, to bracket
// the end within PollShare; the bracket's midpoint is recorded; later runs
// check first at historyLead of it, which stays before the end for the usual
// night-to-night swing of about ±10 %.
const (
	coldStartShare = 0.25 // first check with no history, as a share of the typical duration
	historyLead    = 0.92 // first check with history, as a share of the recorded duration
	shrinkUnknown  = 0.5  // recorded when the first check already found the job done: it was shorter
)

// firstPoll is the delay before the first status check, and whether it
// comes from this instance's history. Jobs with history check rarely (just
// before the expected end, then a share of the elapsed time), so only jobs
// without it need the fleet's poll floor.
func (s *Service) firstPoll(ctx context.Context, spec provider.Spec) (time.Duration, bool) {
	d := time.Duration(float64(provider.LimitsOf(spec.Product, spec.Op).TypicalDuration) * coldStartShare)
	if s.cfg.FirstPoll > 0 {
		d = s.cfg.FirstPoll
	}
	known := false
	if b, ok, err := s.d.Ledger.Get(ctx, keyHistory(spec)); err == nil && ok {
		if ms, perr := strconv.ParseInt(string(b), 10, 64); perr == nil && ms > 0 {
			d = time.Duration(float64(time.Duration(ms)*time.Millisecond) * historyLead)
			known = true
		}
	}
	return max(d, s.cfg.PollMin), known
}

// estimateDuration picks a duration for the history from the bracket the
// checks give: the job ended after the last check that saw it running
// (prev) and before the one that found it ended (elapsed). Underestimating
// costs one more check next night; overestimating delays noticing the end,
// so the estimate sits a quarter of the way into the bracket. A job already
// ended at its first check gives only an upper bound.
func estimateDuration(prev, elapsed time.Duration) time.Duration {
	if prev <= 0 || prev >= elapsed {
		return time.Duration(float64(elapsed) * shrinkUnknown)
	}
	return prev + (elapsed-prev)/4
}

// nextPoll is the delay before the next check, given the time elapsed since
// the job started.
func (s *Service) nextPoll(elapsed time.Duration) time.Duration {
	d := time.Duration(float64(elapsed) * s.cfg.PollShare)
	return min(max(d, s.cfg.PollMin), s.cfg.PollCap)
}

// recordDuration remembers how long this instance's job took, for next
// time: the cloud's own measure when its answer carries one (took), else
// the estimate from the checks' bracket. At 10,000 instances MySQL's
// status limit leaves night 1 about four checks a job, so the bracket is
// wide, and night 2's first checks inherited its error (p95 detection
// 14.7 % of the job's duration with brackets alone).
func (s *Service) recordDuration(ctx context.Context, m job.Message, now time.Time, took time.Duration) {
	if m.Started.IsZero() {
		return
	}
	prev := time.Duration(0)
	if !m.PrevCheck.IsZero() {
		prev = m.PrevCheck.Sub(m.Started)
	}
	d := estimateDuration(prev, now.Sub(m.Started))
	if took > 0 {
		d = took
	}
	if err := s.d.Ledger.Put(ctx, keyHistory(m.Spec), []byte(strconv.FormatInt(d.Milliseconds(), 10))); err != nil {
		loggerFrom(ctx, s.log).Warn("duration history not written", "err", err)
	}
}

// HistoryKey is the ledger key of an instance's recorded duration for an
// operation: what a simulation of a plan seeds its own ledger with.
func HistoryKey(spec provider.Spec) string { return keyHistory(spec) }

func keyHistory(spec provider.Spec) string {
	return fmt.Sprintf("history/%s/%s/%s", spec.Product, spec.InstanceID, spec.Op)
}

// elapsedOf is how long the job has run: from its start, else from its
// cause, else unknown (0, false) — never the span from the zero time, which
// made the next check wait the poll cap and printed "2562047h".
func elapsedOf(m job.Message, now time.Time) (time.Duration, bool) {
	for _, from := range []time.Time{m.Started, m.Created} {
		if !from.IsZero() && !from.After(now) {
			return now.Sub(from), true
		}
	}
	return 0, false
}
