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
// checks early, at a quarter of the product's typical duration (half in a
// fan-out that presses on the status limit: fanoutStartShare), to bracket
// the end within PollShare; the bracket's midpoint is recorded; later runs
// check first at historyLead of it, which stays before the end for the usual
// night-to-night swing of about ±10 %.
const (
	coldStartShare = 0.25 // first check with no history, as a share of the typical duration
	// fanoutStartShare replaces coldStartShare for a job of a fan-out whose
	// checks press on the product's status limit (a poll floor): there every
	// check counts against the night's budget (issue 20: at most 5 a job).
	// The ladder's rungs grow geometrically, so starting at half instead of
	// a quarter saves about log 2 / log 1.25 ≈ 3 checks on every job, and
	// costs the shortest few percent of the fleet (under 0.4 of the typical
	// duration, which the p95 target allows) a late notice of at most half
	// the typical duration. Measured at 10,000 instances, night 1, shares
	// 0.25 / 0.35 / 0.45 / 0.5 / 0.6 gave 6.01 / 5.56 / 5.07 / 4.82 / 4.37
	// checks a job at p95 detection 24.3 / 24.2 / 24.6 / 24.8 / 37.4 % of
	// the job's duration (seeds 2 and 3 at 0.5: 4.81 / 4.82, 24.8 / 24.7 %).
	fanoutStartShare = 0.5
	historyLead      = 0.92 // first check with history, as a share of the recorded duration
	shrinkUnknown    = 0.5  // recorded when the first check already found the job done: it was shorter
	// coldLadderShare is the ladder's share for a job without history. The
	// fleet's first night checks every such job, and its status limit is
	// what bounds detection there: PollShare's 8 % steps spent checks the
	// limit could not place in time (10,000 instances, night 1, with the
	// fan-out spread: shares 0.15 / 0.2 / 0.25 / 0.3 gave p95 detection
	// 24.5 / 22.7 / 24.3 / 28.2 % at 6.78 / 6.38 / 6.01 / 5.68 checks a
	// job). A quarter is the latency a first night is allowed (issue 20).
	coldLadderShare = 0.25
)

// firstPoll is the delay before the first status check, and whether it
// comes from this instance's history. Jobs with history check rarely (just
// before the expected end, then a share of the elapsed time), so only jobs
// without it need the fleet's poll floor. fanout: the job is one of a
// fan-out whose checks press on the status limit (see fanoutStartShare).
func (s *Service) firstPoll(ctx context.Context, spec provider.Spec, fanout bool) (time.Duration, bool) {
	l := provider.LimitsOf(spec.Product, spec.Op)
	share := coldStartShare
	switch {
	case l.Progress:
		share = progressStartShare
	case fanout:
		share = fanoutStartShare
	}
	d := time.Duration(float64(l.TypicalDuration) * share)
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

// Placing checks by progress. A MySQL backup's status answer says how far
// it is (Progress, whole percent) and when it started (StartTime), so one
// reading places the next check at the end it implies instead of a rung of
// the ladder. That matters most on a first night at 10,000 instances: the
// ladder spent 4.4 checks a MySQL job against DescribeBackups' 10/s while
// the fan-out starts 5 jobs a second, so its checks queued behind each
// other and the p95 detection latency was 95 % of the job's duration;
// placed by progress a job needs about 2.8 (docs/benchmarks.md §1).
//
// It assumes progress grows roughly in proportion to the time the job has
// run. The emulator models it so (the whole percent elapsed, rounded
// down); this is not verified against a real cloud. What bounds the cost
// of a cloud that does otherwise: a reading is trusted past the ladder's
// next rung only when the answer also carries the cloud's start (what its
// progress counts from; without it, progress only brings a check earlier
// than the ladder's), and then at most PollCap or the time the job has run
// so far ahead, whichever is longer (a job that ends before its progress
// says is noticed that late at worst: 10 minutes, or its duration so far);
// a check placed by progress that finds the job still running goes back to
// the ladder (progress ahead of time, or stuck at 99 %, costs checks, at
// most one more a rung, and no latency).
const (
	progressStartShare = 0.15 // first check with no history where progress is reported: it reads the progress early
	// progressMargin: the check goes this long after the end the progress
	// implies; the queues' delays are whole seconds, and Tencent's start
	// times are too.
	progressMargin = 2 * time.Second
)

// nextCheck is the delay before a running job's next status check, and,
// when progress placed it, the check the ladder would have made instead
// (zero otherwise): where the job goes back to if it is still running.
func (s *Service) nextCheck(st provider.Status, m job.Message, now time.Time, elapsed time.Duration) (time.Duration, time.Time) {
	ladder := max(s.nextPoll(elapsed), m.PollFloor)
	if m.Cold {
		ladder = max(min(max(time.Duration(float64(elapsed)*coldLadderShare), s.cfg.PollMin), s.cfg.PollCap), m.PollFloor)
	}
	if !m.LadderAt.IsZero() {
		// This check was placed by progress and found the job running.
		if m.LadderAt.After(now) {
			return m.LadderAt.Sub(now), time.Time{}
		}
		return ladder, time.Time{}
	}
	end, started, ok := progressEnd(st, m, now)
	if !ok {
		return ladder, time.Time{}
	}
	d := max(end.Sub(now), s.cfg.PollMin)
	limit := ladder
	if started {
		limit = max(ladder, s.cfg.PollCap, elapsed)
	}
	if d > limit || (!started && d >= ladder) {
		return limit, time.Time{}
	}
	return d, now.Add(ladder)
}

// progressEnd is the end a running job's reported progress implies, and
// whether the cloud's own start (what progress counts from) was in the
// answer; else it counts from our create. A percent rounded down puts the
// end within (e·100/(p+1), e·100/p] of the start after e: the check goes to
// the far side, where a job whose progress is linear has ended, so one
// check finds it done (at 3 % that side is a third past the near one; at
// 20 %, 5 %).
func progressEnd(st provider.Status, m job.Message, now time.Time) (end time.Time, started, ok bool) {
	if st.Progress <= 0 || st.Progress >= 100 {
		return time.Time{}, false, false
	}
	start := m.Started
	if !st.Started.IsZero() && !st.Started.After(now) {
		started = true
		// The cloud's start is whole seconds, rounded down: our create,
		// when it falls in that second, is the closer one (a second off
		// at 1 % is 100 s off the end).
		if m.Started.Before(st.Started) || !m.Started.Before(st.Started.Add(time.Second)) {
			start = st.Started
		}
	}
	if start.IsZero() || !start.Before(now) {
		return time.Time{}, false, false
	}
	ran := float64(now.Sub(start))
	return start.Add(time.Duration(ran * 100 / float64(st.Progress))).Add(progressMargin), started, true
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
