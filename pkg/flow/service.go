package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Deps are the adapters a Service drives. Work receives create steps, Poll
// the poll steps, Dead the messages given up on. Objects is needed only by
// imports, Discoverers only by nightly discovery.
type Deps struct {
	Providers   Providers
	Work, Poll  Sender
	Dead        Sender
	Ledger      Ledger
	Notifier    Notifier
	Objects     Objects
	Discoverers map[provider.Product]Discoverer
	Now         func() time.Time
	Logger      *slog.Logger
	// Seed makes backoff jitter reproducible (tests, simulation).
	Seed uint64
}

// Service runs the flows. Safe for concurrent use.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger

	mu  sync.Mutex
	rng *rand.Rand
	// checks books status checks into seconds with room (statusbook.go).
	checks statusBook
	// sweptAt and watchedAt are the latest sweep and staleness check
	// this process knows of, its own or read from the ledger's gate
	// (sweep.go, stale.go); guarded by mu.
	sweptAt, watchedAt time.Time
}

// New checks the wiring and returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	switch {
	case d.Providers == nil:
		return nil, errors.New("flow: no providers")
	case d.Work == nil || d.Poll == nil || d.Dead == nil:
		return nil, errors.New("flow: work, poll and dead-letter queues are all required")
	case d.Ledger == nil:
		return nil, errors.New("flow: no ledger")
	case d.Notifier == nil:
		return nil, errors.New("flow: no notifier")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	seed := d.Seed
	if seed == 0 {
		seed = uint64(d.Now().UnixNano())
	}
	return &Service{cfg: cfg.withDefaults(), d: d, log: d.Logger, rng: rand.New(rand.NewPCG(seed, seed>>1|1))}, nil
}

// Handle processes one queue message. A nil error means the message is done
// with and may be deleted; an error means "leave it for redelivery" and is
// returned only when the hand-off itself failed (queue or ledger down), so
// nothing is lost.
func (s *Service) Handle(ctx context.Context, body []byte) error {
	m, err := job.Decode(body)
	if err != nil {
		s.log.Error("undecodable message dead-lettered", "err", err, "bytes", len(body))
		if rerr := s.recordUndecodable(ctx, body, err); rerr != nil {
			return fmt.Errorf("dead-letter undecodable message: %w", rerr)
		}
		if _, serr := s.d.Dead.Send(ctx, body, 0); serr != nil {
			return fmt.Errorf("dead-letter undecodable message: %w", serr)
		}
		return nil
	}
	log := s.log.With("job", m.JobID, "step", string(m.Step), "seq", m.Seq)
	ctx = withLogger(ctx, log)
	now := s.d.Now()
	if !m.NotBefore.IsZero() && now.Before(m.NotBefore) {
		return s.send(ctx, m, m.NotBefore.Sub(now))
	}
	done, err := s.handled(ctx, m)
	if err != nil {
		return err
	}
	if done {
		log.Info("duplicate delivery dropped")
		return nil
	}
	switch m.Step {
	case job.StepCreate:
		err = s.create(ctx, m)
	case job.StepPoll:
		err = s.poll(ctx, m)
	case job.StepRetain:
		err = s.retain(ctx, m)
	}
	if err != nil {
		return err
	}
	crashPoint("after-handoff")
	return s.markHandled(ctx, m)
}

// handled reports whether this (job, seq) was already processed or the job
// already has its outcome. A job with an outcome but no notification — its
// winner died between the two, or its send failed — is notified here, by the
// redelivery, before the message is dropped (or the message is kept while
// the winner may still be sending).
func (s *Service) handled(ctx context.Context, m job.Message) (bool, error) {
	if _, ok, err := s.d.Ledger.Get(ctx, keyOutcome(m.JobID)); err != nil || ok {
		if err != nil {
			return false, wrapLedger(err)
		}
		return true, s.renotifyIfOrphaned(ctx, m.JobID)
	}
	_, ok, err := s.d.Ledger.Get(ctx, keyDone(m.JobID, m.Step, m.Seq))
	return ok, wrapLedger(err)
}

func (s *Service) markHandled(ctx context.Context, m job.Message) error {
	_, err := s.d.Ledger.Claim(ctx, keyDone(m.JobID, m.Step, m.Seq), []byte(s.d.Now().UTC().Format(time.RFC3339)))
	return wrapLedger(err)
}

func wrapLedger(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ledger: %w", err)
}

func (s *Service) provider(p provider.Product) (provider.Provider, error) {
	pr, err := s.d.Providers(p)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p, err)
	}
	return pr, nil
}

// create starts the job's cloud job, or adopts the one an earlier delivery
// started, then hands it to the poll queue.
func (s *Service) create(ctx context.Context, m job.Message) error {
	log := loggerFrom(ctx, s.log)
	now := s.d.Now()
	pr, err := s.provider(m.Spec.Product)
	if err != nil {
		return s.finish(ctx, m, failure(m, err))
	}
	spec := m.Spec
	if spec.Op == provider.Import {
		if spec.SourceURL, err = s.presign(ctx, m); err != nil {
			return s.retryOrFail(ctx, m, err)
		}
	}
	if err := spec.Validate(); err != nil {
		return s.finish(ctx, m, failure(m, err))
	}
	// A create that wins a fresh start claim on its first try is the first
	// to touch this job: nothing can exist yet, so the lookup (which costs a
	// call against the product's read limit) is skipped. Every other case —
	// a retry, a redelivery, a claim taken over, a replay of a dead letter
	// (which keeps the given-up job's name) — looks first.
	fresh, held, handedOff, err := s.claimStart(ctx, m)
	if err != nil {
		return err
	}
	if handedOff {
		// The job was started and its poll step sent: this create is a
		// copy that waited out a held claim. Starting or adopting again
		// would make a second chain (or, where the cloud's listing lags
		// its starts, a second backup).
		log.Info("job already handed off to polling; create copy dropped")
		return nil
	}
	var ref provider.Ref
	found := false
	if !fresh || m.Attempt > 0 || m.Lookups > 0 || m.Origin.ReplayOf != "" {
		if ref, found, err = pr.Find(ctx, spec); err != nil {
			if !held {
				if perr := s.releaseStart(ctx, m); perr != nil {
					return perr
				}
			}
			return s.retryOrFail(ctx, m, err)
		}
	}
	switch {
	case found:
		log.Info("adopted a job an earlier delivery started", "ref", string(ref))
	case held:
		// Another delivery is starting this job right now; look again later.
		log.Info("another delivery holds the start claim; checking back")
		return s.requeue(ctx, m, s.cfg.StartLease/2)
	default:
		if err := s.checkPinned(ctx, m); err != nil {
			if perr := s.releaseStart(ctx, m); perr != nil {
				return perr
			}
			return s.retryOrFail(ctx, m, err)
		}
		ref, err = pr.Start(ctx, spec)
		if err != nil {
			if perr := s.releaseStart(ctx, m); perr != nil {
				return perr
			}
			return s.retryOrFail(ctx, m, err)
		}
		log.Info("cloud job started", "ref", string(ref), "product", string(spec.Product), "instance", spec.InstanceID)
		crashPoint("after-start")
	}
	next := m
	next.Step, next.Ref, next.Seq, next.Attempt, next.Lookups, next.Retrying = job.StepPoll, ref, m.Seq+1, 0, 0, time.Time{}
	next.Tries = tries(m)
	next.Started = now
	next.Deadline = now.Add(s.deadline(m.Spec.Op))
	// Only where the fleet's checks press on the product's status limit
	// (a fan-out's floor of at least PollMin): a lone job's early first
	// check and fine steps cost nothing and bracket its end closely for
	// the history.
	pressed := next.PollFloor >= s.cfg.PollMin
	first, known := s.firstPoll(ctx, m.Spec, pressed)
	if known {
		next.PollFloor = 0
	}
	next.Cold = !known && pressed
	s.putState(ctx, next, "running")
	if err := s.send(ctx, next, first); err != nil {
		return err
	}
	// Recorded after the send, so a crash in between leaves the claim to
	// the lease and the lookup, as before.
	return wrapLedger(s.d.Ledger.Put(ctx, keyStart(m.JobID), []byte(handedOffPrefix+string(ref))))
}

// handedOffPrefix marks a start claim whose job was started and handed off.
const handedOffPrefix = "handed-off "

// claimStart takes the start claim for a job. fresh: this call created the
// claim. held: another delivery claimed it less than StartLease ago and may
// be starting the job right now. handedOff: the job was started and its
// poll step sent. A claim older than StartLease (or released after a failed
// start) belongs to nobody and is taken over.
func (s *Service) claimStart(ctx context.Context, m job.Message) (fresh, held, handedOff bool, err error) {
	now := s.d.Now()
	stamp := []byte(now.UTC().Format(time.RFC3339Nano))
	ok, err := s.d.Ledger.Claim(ctx, keyStart(m.JobID), stamp)
	if err != nil || ok {
		return ok, false, false, wrapLedger(err)
	}
	prev, _, err := s.d.Ledger.Get(ctx, keyStart(m.JobID))
	if err != nil {
		return false, false, false, wrapLedger(err)
	}
	if strings.HasPrefix(string(prev), handedOffPrefix) {
		return false, false, true, nil
	}
	t, perr := time.Parse(time.RFC3339Nano, string(prev))
	if perr == nil && now.Sub(t) < s.cfg.StartLease {
		return false, true, false, nil
	}
	return false, false, false, wrapLedger(s.d.Ledger.Put(ctx, keyStart(m.JobID), stamp))
}

// releaseStart gives up a start claim this delivery holds, so the job's own
// retry may start without waiting out the lease; an ambiguous failure is
// covered by the lookup every retry does first.
func (s *Service) releaseStart(ctx context.Context, m job.Message) error {
	return wrapLedger(s.d.Ledger.Put(ctx, keyStart(m.JobID), []byte("released")))
}

func (s *Service) presign(ctx context.Context, m job.Message) (string, error) {
	if s.d.Objects == nil {
		return "", apierr.Invalid("import of %s: no object store configured", m.Spec.InstanceID)
	}
	u, err := s.d.Objects.Presign(ctx, m.Object.Bucket, m.Object.Key, s.cfg.PresignTTL)
	if err != nil {
		return "", fmt.Errorf("presign %s/%s: %w", m.Object.Bucket, m.Object.Key, err)
	}
	return u, nil
}

// poll reads the job's state and finishes it or checks back later.
func (s *Service) poll(ctx context.Context, m job.Message) error {
	log := loggerFrom(ctx, s.log)
	pr, err := s.provider(m.Spec.Product)
	if err != nil {
		return s.finish(ctx, m, failure(m, err))
	}
	st, err := pr.Status(ctx, m.Spec, m.Ref)
	if err != nil {
		return s.retryOrFail(ctx, m, err)
	}
	m.Polls++
	now := s.d.Now()
	switch st.State {
	case provider.Succeeded:
		s.recordDuration(ctx, m, now, st.Took)
		o := outcomeOf(m, Succeeded, now)
		o.Detail = st.BackupID
		return s.finish(ctx, m, o)
	case provider.Failed:
		o := outcomeOf(m, Failed, now)
		o.Detail = st.Detail
		if o.Detail == "" {
			o.Detail = "the cloud reports the job failed without a reason (" + string(m.Ref) + ")"
		}
		return s.finish(ctx, m, o)
	}
	elapsed, known := elapsedOf(m, now)
	if !m.Deadline.IsZero() && !now.Before(m.Deadline) {
		o := outcomeOf(m, Stuck, now)
		o.Detail = "still running at its deadline"
		if known {
			o.Detail = fmt.Sprintf("still running after %s", elapsed.Round(time.Second))
		}
		return s.finish(ctx, m, o)
	}
	next := m
	next.Seq, next.Attempt, next.Lookups, next.Retrying = m.Seq+1, 0, 0, time.Time{}
	next.PrevCheck = now
	var delay time.Duration
	delay, next.LadderAt = s.nextCheck(st, m, now, elapsed)

	if rem := m.Deadline.Sub(now); !m.Deadline.IsZero() && delay > rem {
		delay = rem
	}
	log.Debug("still running", "progress", st.Progress, "next", delay)
	s.putState(ctx, next, "running")
	return s.send(ctx, next, delay)
}

// retryOrFail decides by error kind: throttled/busy → back off and retry;
// ambiguous → retry (the next create looks the job up first); permanent →
// the job fails now with the cloud's code. A create keeps retrying for
// RetryBudget from its first failed try, never past the job's deadline, and
// is then dead-lettered. A poll is never given up while the job may still be
// running in the cloud: not reading its state is no reason to call it
// failed, so polls retry until the job's deadline (then "stuck").
func (s *Service) retryOrFail(ctx context.Context, m job.Message, cause error) error {
	log := loggerFrom(ctx, s.log)
	kind := apierr.KindOf(cause)
	if kind == apierr.Permanent {
		return s.finish(ctx, m, failure(m, cause))
	}
	now := s.d.Now()
	next := m
	next.Seq = m.Seq + 1
	var tries int
	if kind == apierr.RetryAfterLookup {
		next.Lookups++
		tries = next.Lookups
	} else {
		next.Attempt++
		tries = next.Attempt
	}
	delay := s.backoff(tries-1, kind)
	if m.Step == job.StepPoll {
		if !m.Deadline.IsZero() && !now.Before(m.Deadline) {
			o := outcomeOf(m, Stuck, now)
			o.Detail = fmt.Sprintf("state unreadable at the deadline: %v", cause)
			return s.finish(ctx, m, o)
		}
		if rem := m.Deadline.Sub(now); !m.Deadline.IsZero() && delay > rem {
			delay = rem
		}
		log.Info("status check will be retried", "kind", kind.String(), "try", tries, "code", apierr.Code(cause))
		return s.send(ctx, next, delay)
	}
	if next.Retrying.IsZero() {
		next.Retrying = now
	}
	end := next.Retrying.Add(s.cfg.RetryBudget)
	if !m.Created.IsZero() {
		if dl := m.Created.Add(s.deadline(m.Spec.Op)); dl.Before(end) {
			end = dl
		}
	}
	if !now.Before(end) {
		log.Warn("retry budget spent", "kind", kind.String(), "tries", tries,
			"retrying", now.Sub(next.Retrying).Round(time.Second), "err", cause)
		return s.deadLetter(ctx, m, fmt.Errorf("still failing after %s of retries (%d tries): %w",
			now.Sub(next.Retrying).Round(time.Second), tries, cause), tries)
	}
	// The last try lands on the budget's end, so the whole budget is used.
	delay = min(delay, end.Sub(now))
	log.Info("will retry", "kind", kind.String(), "try", tries, "code", apierr.Code(cause), "in", delay)
	return s.send(ctx, next, delay)
}

// requeue sends the same step again as the next hand-off, without counting
// a failed try.
func (s *Service) requeue(ctx context.Context, m job.Message, delay time.Duration) error {
	next := m
	next.Seq = m.Seq + 1
	return s.send(ctx, next, delay)
}

// backoff is exponential with full jitter, from RetryBase to RetryCap.
func (s *Service) backoff(attempt int, kind apierr.Kind) time.Duration {
	base := s.cfg.RetryBase
	if kind == apierr.RetryAfterLookup {
		base *= 2
	}
	d := base << min(attempt, 20)
	if d > s.cfg.RetryCap || d <= 0 {
		d = s.cfg.RetryCap
	}
	s.mu.Lock()
	j := time.Duration(s.rng.Int64N(int64(d)/2 + 1))
	s.mu.Unlock()
	return d/2 + j
}

func (s *Service) deadline(op provider.Op) time.Duration {
	if op == provider.Import {
		return s.cfg.ImportDeadline
	}
	return s.cfg.BackupDeadline
}

// send routes a message to its queue, chaining delays longer than the
// queue's maximum through NotBefore.
func (s *Service) send(ctx context.Context, m job.Message, delay time.Duration) error {
	q := s.d.Work
	if m.Step == job.StepPoll {
		q = s.d.Poll
	}
	if delay < 0 {
		delay = 0
	}
	m.NotBefore = time.Time{}
	if max := q.MaxDelay(); max > 0 && delay > max {
		m.NotBefore = s.d.Now().Add(delay)
		delay = max
	} else if m.Step == job.StepPoll {
		// The step's one status call is booked now, so it comes due in a
		// second the product's status limit has room for; a chained delay
		// is booked when its last link is sent.
		delay = s.checks.book(m.Spec.Product, m.Spec.Op, s.d.Now(), delay)
	}
	body, err := m.Encode()
	if err != nil {
		return err
	}
	if _, err := q.Send(ctx, body, delay.Round(time.Second)); err != nil {
		return fmt.Errorf("hand off job %s (%s): %w", m.JobID, m.Step, err)
	}
	return s.recordOpen(ctx, m, body, delay)
}

// deadLetter records the message for `backupflow dead`, parks it and ends
// the job. tries is how many times it was tried.
func (s *Service) deadLetter(ctx context.Context, m job.Message, cause error, tries int) error {
	// The parked copies are read by operators (`backupflow dead list
	// --json`) long after a chat reply handle has expired, and the handle
	// is a credential: they go without it. The outcome keeps it, so the
	// result still reaches the conversation.
	parked := m
	parked.Origin.Reply, parked.Origin.ReplyExpires = "", time.Time{}
	body, err := parked.Encode()
	if err != nil {
		return err
	}
	if err := s.recordDead(ctx, parked, body, cause, tries); err != nil {
		return err
	}
	if _, err := s.d.Dead.Send(ctx, body, 0); err != nil {
		return fmt.Errorf("dead-letter job %s: %w", m.JobID, err)
	}
	o := failure(m, cause)
	o.Result = DeadLettered
	return s.finish(ctx, m, o)
}

func failure(m job.Message, cause error) Outcome {
	o := outcomeOf(m, Failed, time.Time{})
	o.Message = cause.Error()
	var ae *apierr.Error
	if errors.As(cause, &ae) {
		o.Code, o.Message, o.RequestID = ae.Code, ae.Message, ae.RequestID
	}
	return o
}

// tries is how many tries starting the job has taken: counted so far while
// it is being started (this one included), recorded once it was.
func tries(m job.Message) int {
	if m.Step == job.StepCreate {
		return m.Attempt + m.Lookups + 1
	}
	return m.Tries
}

func outcomeOf(m job.Message, r Result, now time.Time) Outcome {
	o := Outcome{
		JobID: m.JobID, Result: r, Op: m.Spec.Op, Product: m.Spec.Product, Instance: m.Spec.InstanceID,
		Name: m.Spec.Name, Ref: m.Ref, Attempts: tries(m), Polls: m.Polls,
		Created: m.Created, Started: m.Started, Finished: now, Origin: m.Origin,
	}
	if m.Object != nil {
		o.Object = m.Object.Bucket + "/" + m.Object.Key
	}
	return o
}

// finish records the job's one outcome. Only the delivery that wins the
// outcome claim logs the result line and notifies; any other copy stops.
func (s *Service) finish(ctx context.Context, m job.Message, o Outcome) error {
	log := loggerFrom(ctx, s.log)
	if o.Finished.IsZero() {
		o.Finished = s.d.Now()
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode outcome of %s: %w", m.JobID, err)
	}
	won, err := s.d.Ledger.Claim(ctx, keyOutcome(m.JobID), b)
	if err != nil {
		return wrapLedger(err)
	}
	if !won {
		return s.renotifyIfOrphaned(ctx, m.JobID)
	}
	crashPoint("after-outcome")
	log.Info("job finished", "result", string(o.Result), "product", string(o.Product), "instance", o.Instance,
		"code", o.Code, "message", o.Message, "requestId", o.RequestID, "detail", o.Detail, "duration", o.Duration().Round(time.Second).String(),
		"polls", o.Polls, "attempts", o.Attempts)
	s.putState(ctx, m, string(o.Result))
	s.watchSuccess(ctx, o)
	if o.Origin.Run != "" {
		if err := s.recordRunOutcome(ctx, o); err != nil {
			// Left for redelivery, which files it again
			// (renotifyIfOrphaned) before notifying.
			log.Error("run summary bookkeeping failed; left for redelivery", "run", o.Origin.Run, "err", err)
			return fmt.Errorf("file outcome of %s in run %s: %w", m.JobID, o.Origin.Run, err)
		}
	}
	if err := s.notifyOutcome(ctx, o); err != nil {
		// The outcome stands. The message is left for redelivery, which
		// finds the outcome without its notified marker and sends it then
		// (renotifyIfOrphaned), so a failed send is retried, never lost.
		log.Error("notification failed; left for redelivery", "err", err)
		return fmt.Errorf("notify outcome of %s: %w", m.JobID, err)
	}
	return nil
}

// errNotifyPending keeps a message whose job's outcome is claimed but not yet
// notified, while the claimant may still be sending: its redelivery looks again.
var errNotifyPending = errors.New("outcome claimed, notification pending")

// renotifyIfOrphaned covers a winner that died between claiming the outcome
// and notifying, or whose send failed: if no notification is recorded
// NotifyLease after the claim, send it. Within the lease the claimant may
// still be sending, so the message is kept (errNotifyPending) rather than
// dropped: dropping it was how a crash there lost the notification.
func (s *Service) renotifyIfOrphaned(ctx context.Context, jobID string) error {
	if _, ok, err := s.d.Ledger.Get(ctx, keyNotified(jobID)); err != nil || ok {
		return wrapLedger(err)
	}
	b, ok, err := s.d.Ledger.Get(ctx, keyOutcome(jobID))
	if err != nil {
		return wrapLedger(err)
	}
	if !ok {
		// The claim was lost, yet nobody's outcome is there: ending here
		// would leave the job with neither an outcome nor a message. Keep
		// the message; the redelivery claims again.
		return fmt.Errorf("job %s: outcome claim lost but no outcome is recorded", jobID)
	}
	var o Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("outcome of %s: %w", jobID, err)
	}
	if s.d.Now().Sub(o.Finished) < s.cfg.NotifyLease {
		return fmt.Errorf("job %s: %w", jobID, errNotifyPending)
	}
	// Two copies of the message handled at once (the drain's workers, the
	// sweep's copy beside the original) both found the outcome unmarked and
	// both sent (the 1,000-job crash soak). Only the copy that claims this
	// lease-long window's re-send sends; another is kept and looks again.
	// A re-sender that dies leaves its window's claim; the next window's
	// copy takes over, so the notification is never lost. (Two copies
	// straddling a window's boundary can still both send.)
	won, err := s.d.Ledger.Claim(ctx, keyResend(jobID, resendEpoch(s.d.Now(), s.cfg.NotifyLease)), []byte(s.d.Now().UTC().Format(time.RFC3339Nano)))
	if err != nil {
		return wrapLedger(err)
	}
	if !won {
		return fmt.Errorf("job %s: %w", jobID, errNotifyPending)
	}
	if o.Origin.Run != "" {
		// The claimant may have died before filing the outcome in its run:
		// filing is idempotent, and the sweep summarizes a run whose last
		// job's summary never came.
		if err := s.fileRunOutcome(ctx, o); err != nil {
			return err
		}
	}
	loggerFrom(ctx, s.log).Warn("outcome found without its notification; sending it", "result", string(o.Result))
	if err := s.notifyOutcome(ctx, o); err != nil {
		return fmt.Errorf("notify outcome of %s: %w", jobID, err)
	}
	if o.Origin.Run != "" {
		// This path files the outcome but claims no count slot (a slot
		// claim cannot tell a second count of the same job), so the run's
		// last slot may never be claimed: look whether the run is complete,
		// by its listing. Rare (a crash or a failed write came first), so
		// the listing costs little.
		s.maybeSummarize(ctx, o.Origin.Run)
	}
	return nil
}

func (s *Service) notifyOutcome(ctx context.Context, o Outcome) error {
	quiet := s.cfg.QuietSuccess && o.Origin.Run != "" && o.Result == Succeeded
	if !quiet {
		if err := s.d.Notifier.Notify(ctx, Notice{Outcome: &o}); err != nil {
			return err
		}
	}
	if _, err := s.d.Ledger.Claim(ctx, keyNotified(o.JobID), []byte(s.d.Now().UTC().Format(time.RFC3339))); err != nil {
		return wrapLedger(err)
	}
	s.closeOpen(ctx, o.JobID)
	return nil
}

// putState keeps a short, best-effort status line per job for `status`.
// The status record leaves out the chat reply handle: `status` never needs
// it, and it is a credential.
func (s *Service) putState(ctx context.Context, m job.Message, state string) {
	origin := m.Origin
	origin.Reply, origin.ReplyExpires = "", time.Time{}
	b, _ := json.Marshal(JobState{JobID: m.JobID, State: state, Step: m.Step, Ref: m.Ref, Spec: m.Spec,
		Polls: m.Polls, Attempt: m.Attempt, Tries: tries(m), Created: m.Created, Started: m.Started, Updated: s.d.Now(), Origin: origin})
	if err := s.d.Ledger.Put(ctx, keyState(m.JobID), b); err != nil {
		loggerFrom(ctx, s.log).Warn("status record not written", "err", err)
	}
	if (m.Step == job.StepCreate || m.Polls == 0) && m.Spec.InstanceID != "" {
		// Create-if-absent: written once per job, read by `status <instance>`.
		// A nightly job's first state is "running" (its create step wrote
		// none), so the first poll step's state indexes it too.
		if _, err := s.d.Ledger.Claim(ctx, keyInstanceJob(m.Spec.InstanceID, m.Created, m.JobID), []byte("{}")); err != nil {
			loggerFrom(ctx, s.log).Warn("instance index not written", "err", err)
		}
	}
}

// JobState is the last known state of a job, for status queries.
type JobState struct {
	JobID   string        `json:"job"`
	State   string        `json:"state"`
	Step    job.Step      `json:"step"`
	Ref     provider.Ref  `json:"ref,omitempty"`
	Spec    provider.Spec `json:"spec"`
	Polls   int           `json:"polls"`
	Attempt int           `json:"attempt"`
	Tries   int           `json:"tries,omitempty"` // tries at starting the cloud job (see job.Message.Tries)
	Created time.Time     `json:"created"`
	Started time.Time     `json:"started,omitzero"` // when the cloud job began
	Updated time.Time     `json:"updated"`
	Origin  job.Origin    `json:"origin"`
}

// Ledger keys. One prefix per job keeps a job's records together.
// keyDone names the step as well as the seq: a create copy that found the
// start claim held queues create(seq+1) while the winner sends poll(seq+1),
// and neither is a duplicate of the other.
func keyDone(id string, step job.Step, seq int) string {
	return fmt.Sprintf("jobs/%s/done/%s/%06d", id, step, seq)
}
func keyStart(id string) string    { return "jobs/" + id + "/start" }
func keyOutcome(id string) string  { return "jobs/" + id + "/outcome" }
func keyNotified(id string) string { return "jobs/" + id + "/notified" }
func keyState(id string) string    { return "jobs/" + id + "/state" }

// keyResend is the claim of one window's re-send of an orphaned outcome.
func keyResend(id string, epoch int64) string {
	return "jobs/" + id + "/resend/" + strconv.FormatInt(epoch, 10)
}

// resendEpoch numbers the lease-long window now falls in.
func resendEpoch(now time.Time, lease time.Duration) int64 {
	return now.UnixNano() / int64(max(lease, time.Second))
}

type loggerKey struct{}

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

func loggerFrom(ctx context.Context, def *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return def
}
