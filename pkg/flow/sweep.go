package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
)

// A queue can lose a message for good: CMQ drops one at the queue's max
// unacknowledged time whether or not it was handled, a retention period
// ends, an operator purges a queue. Every hand-off therefore also records
// the job's latest message under open/<id>, until the job's outcome is
// notified; the sweep reads these records and mends what a lost message
// left. A job whose step is overdue by more than the poll cap gets a copy
// of that step (a copy of a step that did run is dropped by its done
// marker) or, past its deadline, is recorded stuck and notified, once. A
// job whose step is still queued is left to that step.

// openRecord is the latest hand-off of a job without a notified outcome.
type openRecord struct {
	Msg json.RawMessage `json:"msg"` // the encoded envelope, as sent
	Due time.Time       `json:"due"` // when the queue makes it visible
}

func keyOpen(id string) string { return "open/" + id }

const keySweepLast = "sweep/last"

// SweepReport says what one sweep did.
type SweepReport struct {
	Open     int // jobs with a record
	Requeued int // lost steps sent again
	Stuck    int // jobs recorded stuck by this sweep
	Closed   int // records of notified jobs removed
	Skipped  bool
	// Stale is the staleness check that rides on the sweep.
	Stale StaleReport
}

// recordOpen notes m as the job's latest hand-off. It is part of the
// hand-off: a record not written fails it, so the message is delivered
// again rather than left unguarded.
func (s *Service) recordOpen(ctx context.Context, m job.Message, body []byte, delay time.Duration) error {
	b, err := encodeOpen(body, s.d.Now().Add(delay).UTC())
	if err != nil {
		return err
	}
	return wrapLedger(s.d.Ledger.Put(ctx, keyOpen(m.JobID), b))
}

// encodeOpen writes the bytes json.Marshal writes for an openRecord of
// body, which must be job.Message.Encode's output: that is compact, with
// HTML characters already escaped, so Marshal's scan of it to compact it
// again (half the cost of every hand-off's record) changed nothing.
func encodeOpen(body []byte, due time.Time) ([]byte, error) {
	d, err := due.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(body)+len(d)+16)
	b = append(b, `{"msg":`...)
	b = append(b, body...)
	b = append(b, `,"due":`...)
	b = append(b, d...)
	return append(b, '}'), nil
}

// closeOpen removes a notified job's record; one left behind is removed by
// the next sweep.
func (s *Service) closeOpen(ctx context.Context, jobID string) {
	if err := s.d.Ledger.Delete(ctx, keyOpen(jobID)); err != nil {
		loggerFrom(ctx, s.log).Warn("open-job record not removed; the next sweep removes it", "err", err)
	}
}

// Sweep mends jobs whose message was lost. It runs at most once per
// SweepEvery (the drain timer fires every minute); force runs it anyway
// (the nightly run). Every action is idempotent — the outcome claim and the
// done markers collapse a second sweep's work — so concurrent or duplicated
// sweeps are harmless.
func (s *Service) Sweep(ctx context.Context, force bool) (SweepReport, error) {
	var rep SweepReport
	now := s.d.Now()
	if !force {
		// A warm process remembers the latest sweep it knows of, so the
		// drain timer's empty firings (about 2,700 a day, issue 20 item 3)
		// make only their receive instead of a ledger read as well. The
		// memory never skips a sweep the gate would run: it holds a time
		// the gate held, and every later sweep writes a later one. A cold
		// process reads the gate as before; two processes sweeping at once
		// stay harmless (above). The one-minute timers stay: they bound
		// how long a chat-requested backup waits to start.
		if t := s.known(&s.sweptAt); !t.IsZero() && now.Sub(t) < s.cfg.SweepEvery {
			rep.Skipped = true
			return rep, nil
		}
		b, ok, err := s.d.Ledger.Get(ctx, keySweepLast)
		if err != nil {
			return rep, wrapLedger(err)
		}
		if t, perr := time.Parse(time.RFC3339Nano, string(b)); ok && perr == nil && now.Sub(t) < s.cfg.SweepEvery {
			s.saw(&s.sweptAt, t)
			rep.Skipped = true
			return rep, nil
		}
	}
	if err := s.d.Ledger.Put(ctx, keySweepLast, []byte(now.UTC().Format(time.RFC3339Nano))); err != nil {
		return rep, wrapLedger(err)
	}
	s.saw(&s.sweptAt, now)
	// Runs first: they are few, and a sweep cut short in the job records
	// below (its budget, or its process dying, at thousands of records)
	// never reached a run whose summary was owed — the 1,000-job crash soak
	// lost its summary that way.
	var errs []error
	if err := s.sweepRuns(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sweep: runs: %w", err))
	}
	keys, err := s.d.Ledger.List(ctx, "open/")
	if err != nil {
		return rep, errors.Join(append(errs, wrapLedger(err))...)
	}
	// A sweep cut short by its budget (ctx) leaves the rest to the next
	// one; starting at a random record keeps the listing's tail from
	// waiting forever behind its head.
	start := 0
	if len(keys) > 0 {
		s.mu.Lock()
		start = s.rng.IntN(len(keys))
		s.mu.Unlock()
	}
	for i := range keys {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("sweep: stopped after %d of %d open jobs: %w", rep.Open, len(keys), err))
			break
		}
		rep.Open++
		k := keys[(start+i)%len(keys)]
		if err := s.sweepOne(ctx, strings.TrimPrefix(k, "open/"), now, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	if rep.Stuck > 0 {
		// A job recorded stuck here may have been its run's last.
		if err := s.sweepRuns(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sweep: runs: %w", err))
		}
	}
	s.log.Info("sweep", "open", rep.Open, "requeued", rep.Requeued, "stuck", rep.Stuck, "closed", rep.Closed, "errors", len(errs))
	// The drain timer fires whether or not the nightly timer does, so the
	// check that notices a nightly run that never came rides here.
	st, err := s.CheckStale(ctx, force)
	rep.Stale = st
	if err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// known is the latest time a gate (sweptAt, watchedAt) held that this
// process has written or read.
func (s *Service) known(gate *time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *gate
}

func (s *Service) saw(gate *time.Time, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.After(*gate) {
		*gate = t
	}
}

func (s *Service) sweepOne(ctx context.Context, id string, now time.Time, rep *SweepReport) error {
	log := s.log.With("job", id)
	ctx = withLogger(ctx, log)
	if _, ok, err := s.d.Ledger.Get(ctx, keyOutcome(id)); err != nil || ok {
		if err != nil {
			return wrapLedger(err)
		}
		// Ended: notify it if its notification was lost, then forget it.
		// Within the notify lease its claimant may still be sending: the
		// next sweep looks again.
		err := s.renotifyIfOrphaned(ctx, id)
		if errors.Is(err, errNotifyPending) {
			return nil
		}
		if err != nil {
			return err
		}
		s.closeOpen(ctx, id)
		rep.Closed++
		return nil
	}
	b, ok, err := s.d.Ledger.Get(ctx, keyOpen(id))
	if err != nil || !ok {
		return wrapLedger(err)
	}
	var rec openRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("sweep: open record of %s: %w", id, err)
	}
	grace := s.cfg.PollCap
	if !now.After(rec.Due.Add(grace)) {
		// Still queued, or being handled: its step will end it. Most
		// records are, so the message is decoded only past this point
		// (10,000 open jobs a sweep at a fleet's fan-out).
		return nil
	}
	m, err := job.Decode(rec.Msg)
	if err != nil {
		return fmt.Errorf("sweep: open record of %s: %w", id, err)
	}
	deadline := m.Deadline
	if deadline.IsZero() && !m.Created.IsZero() {
		deadline = m.Created.Add(s.deadline(m.Spec.Op))
	}
	// Overdue by more than the poll cap: the message is gone.
	switch {
	case !deadline.IsZero() && now.After(deadline.Add(grace)):
		// Its own step would have ended it at the deadline: that step is
		// gone. finish claims the one outcome, notifies once and counts
		// it in its run, whose summary is then sent.
		o := outcomeOf(m, Stuck, now)
		o.Detail = fmt.Sprintf("no outcome by its deadline (%s): its %s step (#%d, due %s) was lost",
			deadline.UTC().Format(time.RFC3339), m.Step, m.Seq, rec.Due.Format(time.RFC3339))
		log.Warn("sweep: job past its deadline with no outcome; recorded stuck", "step", string(m.Step), "seq", m.Seq)
		if err := s.finish(ctx, m, o); err != nil {
			return err
		}
		rep.Stuck++
	default:
		log.Warn("sweep: job's step overdue; sent again", "step", string(m.Step), "seq", m.Seq,
			"overdue", now.Sub(rec.Due).Round(time.Second))
		delay := time.Duration(0)
		if !m.NotBefore.IsZero() {
			delay = m.NotBefore.Sub(now) // a chained long delay keeps its end
		}
		if err := s.send(ctx, m, delay); err != nil {
			return err
		}
		rep.Requeued++
	}
	return nil
}
