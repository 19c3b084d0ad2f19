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
// night, so the first check goes just before the duration measured last time
// (or the product's typical duration on a first run), and later checks come
// after a fixed share of the elapsed time: detection latency stays within
// that share of the job's duration while the number of checks grows only
// logarithmically.

// firstPoll is the delay before the first status check.
func (s *Service) firstPoll(ctx context.Context, spec provider.Spec) time.Duration {
	est := provider.LimitsOf(spec.Product, spec.Op).TypicalDuration
	if s.cfg.FirstPoll > 0 {
		est = s.cfg.FirstPoll
	}
	if b, ok, err := s.d.Ledger.Get(ctx, keyHistory(spec)); err == nil && ok {
		if ms, perr := strconv.ParseInt(string(b), 10, 64); perr == nil && ms > 0 {
			est = time.Duration(ms) * time.Millisecond
		}
	}
	d := time.Duration(float64(est) * 0.95)
	return max(d, s.cfg.PollMin)
}

// nextPoll is the delay before the next check, given the time elapsed since
// the job started.
func (s *Service) nextPoll(elapsed time.Duration) time.Duration {
	d := time.Duration(float64(elapsed) * s.cfg.PollShare)
	return min(max(d, s.cfg.PollMin), s.cfg.PollCap)
}

// recordDuration remembers how long this instance's job took, for next time.
func (s *Service) recordDuration(ctx context.Context, m job.Message, now time.Time) {
	if m.Started.IsZero() {
		return
	}
	d := now.Sub(m.Started)
	if err := s.d.Ledger.Put(ctx, keyHistory(m.Spec), []byte(strconv.FormatInt(d.Milliseconds(), 10))); err != nil {
		loggerFrom(ctx, s.log).Warn("duration history not written", "err", err)
	}
}

func keyHistory(spec provider.Spec) string {
	return fmt.Sprintf("history/%s/%s/%s", spec.Product, spec.InstanceID, spec.Op)
}
