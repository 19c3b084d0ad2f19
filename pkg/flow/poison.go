package flow

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/backupflow/backupflow/pkg/job"
)

// HandleSafely is Handle with a panic turned into an error, so one message
// that crashes its handler (an SDK reading an answer of exactly `null`)
// fails alone instead of killing the batch it came in. The failure is
// noted in the ledger so that, if the message keeps failing, the job is
// dead-lettered with this reason (GiveUp).
func (s *Service) HandleSafely(ctx context.Context, body []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("message handling panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("handling the message panicked: %v", p)
		}
		if err != nil {
			s.noteFailure(ctx, body, err)
		}
	}()
	return s.Handle(ctx, body)
}

// noteFailure keeps the last reason a job's message failed. Best effort: a
// ledger that is down is likely why it failed in the first place.
func (s *Service) noteFailure(ctx context.Context, body []byte, cause error) {
	m, err := job.Decode(body)
	if err != nil {
		return
	}
	if err := s.d.Ledger.Put(ctx, keyFailure(m.JobID), []byte(cause.Error())); err != nil {
		s.log.Warn("could not note a failure", "job", m.JobID, "err", err)
	}
}

// GiveUp dead-letters a message that was received receives times without
// being handled: the job ends "dead-lettered" with the last failure noted
// for it, and is notified. A message that no longer decodes is parked as
// Handle parks it.
func (s *Service) GiveUp(ctx context.Context, body []byte, receives int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("dead-lettering a poison message panicked: %v", p)
		}
	}()
	m, derr := job.Decode(body)
	if derr != nil {
		return s.Handle(ctx, body)
	}
	ctx = withLogger(ctx, s.log.With("job", m.JobID, "step", string(m.Step), "seq", m.Seq))
	// A copy of a step already handled (a redelivery after a lost delete
	// keeps counting receives) is no poison: drop it as Handle would.
	if done, err := s.handled(ctx, m); err != nil || done {
		return err
	}
	last := "no failure was recorded (the process may have died handling it)"
	if b, ok, lerr := s.d.Ledger.Get(ctx, keyFailure(m.JobID)); lerr == nil && ok {
		last = string(b)
	}
	cause := fmt.Errorf("the message was received %d times without being handled; last failure: %w", receives, errors.New(last))
	loggerFrom(ctx, s.log).Error("poison message dead-lettered", "receives", receives, "reason", last)
	return s.deadLetter(ctx, m, cause, receives)
}

func keyFailure(id string) string { return "jobs/" + id + "/failure" }
