package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// A job given up on ends "dead-lettered": its outcome is claimed and
// notified like any other, its message is parked on the dead-letter queue,
// and a record under dead/<job> keeps what an operator needs to decide
// (what, why, when, tries) with the message itself, for replay. The queue
// copy is for forensics only: nothing consumes it, and CMQ drops it at its
// retention period, so the ledger record is what `backupflow dead` reads.

// DeadLetter is the ledger's record of one message given up on.
type DeadLetter struct {
	JobID string `json:"job"`
	// What the job was: "backup cdb-…", "import bucket/key into mssql-…",
	// or "undecodable message (N bytes)".
	What   string     `json:"what"`
	Why    string     `json:"why"`
	When   time.Time  `json:"when"`
	Tries  int        `json:"tries"`
	Step   job.Step   `json:"step,omitempty"`
	Origin job.Origin `json:"origin"`
	// Msg is the message as it was given up on; empty for one that did not
	// decode (Raw holds its first bytes then), which can only be dropped.
	Msg json.RawMessage `json:"msg,omitempty"`
	Raw string          `json:"raw,omitempty"`
	// ReplayedAs is the job a replay handed the message to.
	ReplayedAs string    `json:"replayedAs,omitempty"`
	ReplayedAt time.Time `json:"replayedAt,omitempty"`
}

func keyDead(id string) string { return "dead/" + id }

// ErrNoDeadLetter is returned for an id with no dead-letter record.
var ErrNoDeadLetter = errors.New("no dead letter")

// recordDead writes the dead-letter record before the message is parked and
// the outcome claimed, so a crash in between leaves a record (whose replay
// checks the outcome) rather than a dead-lettered job nobody can replay.
func (s *Service) recordDead(ctx context.Context, m job.Message, body []byte, cause error, tries int) error {
	d := DeadLetter{JobID: m.JobID, What: whatOf(m.Spec, m.Object), Why: cause.Error(), When: s.d.Now().UTC(),
		Tries: tries, Step: m.Step, Origin: m.Origin, Msg: body}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode dead letter of %s: %w", m.JobID, err)
	}
	return wrapLedger(s.d.Ledger.Put(ctx, keyDead(m.JobID), b))
}

// recordUndecodable keeps a record of a message that did not decode, keyed
// by a hash of its bytes (a redelivery overwrites its own record).
func (s *Service) recordUndecodable(ctx context.Context, body []byte, cause error) error {
	raw := body
	if len(raw) > 512 {
		raw = raw[:512]
	}
	id := "bad-" + strings.TrimPrefix(job.NewID("undecodable", string(body)), "j")
	d := DeadLetter{JobID: id, What: fmt.Sprintf("undecodable message (%d bytes)", len(body)), Why: cause.Error(),
		When: s.d.Now().UTC(), Raw: strings.ToValidUTF8(string(raw), "\uFFFD")}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	return wrapLedger(s.d.Ledger.Put(ctx, keyDead(id), b))
}

func whatOf(spec provider.Spec, obj *job.Object) string {
	if spec.Op == provider.Import {
		src := "an object"
		if obj != nil {
			src = obj.Bucket + "/" + obj.Key
		}
		return "import " + src + " into " + spec.InstanceID
	}
	return string(spec.Op) + " " + spec.InstanceID
}

// DeadLetters returns the dead-letter records, oldest first.
func (s *Service) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	keys, err := s.d.Ledger.List(ctx, "dead/")
	if err != nil {
		return nil, wrapLedger(err)
	}
	var out []DeadLetter
	for _, k := range keys {
		d, ok, err := s.deadLetterRecord(ctx, strings.TrimPrefix(k, "dead/"))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].When.Before(out[j].When) })
	return out, nil
}

func (s *Service) deadLetterRecord(ctx context.Context, id string) (DeadLetter, bool, error) {
	var d DeadLetter
	b, ok, err := s.d.Ledger.Get(ctx, keyDead(id))
	if err != nil || !ok {
		return d, false, wrapLedger(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, false, fmt.Errorf("dead letter %s: %w", id, err)
	}
	return d, true, nil
}

// ReplayStatus says what a replay did.
type ReplayStatus string

const (
	// Replayed: the message was handed to the work (or poll) queue as job JobID.
	Replayed ReplayStatus = "replayed"
	// AlreadyReplayed: an earlier replay handed it off; nothing was sent.
	AlreadyReplayed ReplayStatus = "already replayed"
	// HasOutcome: the job ended otherwise (another delivery won its
	// outcome before the give-up); nothing was sent.
	HasOutcome ReplayStatus = "has an outcome"
)

// Replay is the result of replaying one dead letter.
type Replay struct {
	DeadID string       `json:"dead"`
	JobID  string       `json:"job,omitempty"` // the replay's job
	Status ReplayStatus `json:"status"`
	// State is the replay job's state or outcome, or the dead job's
	// outcome for HasOutcome.
	State string `json:"state,omitempty"`
}

// ReplayID is the job a dead letter's replay runs as. It is derived from
// the dead job, so replaying one twice (two operators, a retried command)
// is one job; the replay of a replay that was dead-lettered again is
// another.
func ReplayID(deadID string) string { return job.NewID("replay", deadID) }

// ReplayDead hands a dead-lettered job's message back to its queue as a new
// job with a fresh retry budget. The replay keeps the dead job's backup or
// migration name, so its create first adopts anything the given-up job did
// start in the cloud instead of starting a second. Idempotent: a dead job
// that has another outcome, or whose replay is already on its way or
// ended, is left alone.
func (s *Service) ReplayDead(ctx context.Context, id string) (Replay, error) {
	r := Replay{DeadID: id}
	d, ok, err := s.deadLetterRecord(ctx, id)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, fmt.Errorf("dead letter %s: %w", id, ErrNoDeadLetter)
	}
	if len(d.Msg) == 0 {
		return r, apierr.Invalid("dead letter %s is an undecodable message and cannot be replayed; drop it", id)
	}
	m, err := job.Decode(d.Msg)
	if err != nil {
		return r, fmt.Errorf("dead letter %s: %w", id, err)
	}
	if b, ok, err := s.d.Ledger.Get(ctx, keyOutcome(id)); err != nil {
		return r, wrapLedger(err)
	} else if ok {
		var o Outcome
		if err := json.Unmarshal(b, &o); err != nil {
			return r, fmt.Errorf("outcome of %s: %w", id, err)
		}
		if o.Result != DeadLettered {
			r.Status, r.State = HasOutcome, string(o.Result)
			return r, nil
		}
	}
	r.JobID = ReplayID(id)
	if st, out, err := s.State(ctx, r.JobID); err == nil {
		r.Status, r.State = AlreadyReplayed, st.State
		if out != nil {
			r.State = string(out.Result)
		}
		return r, nil
	} else if !errors.Is(err, ErrUnknownJob) {
		return r, err
	}
	now := s.d.Now()
	next := m
	next.JobID = r.JobID
	next.Seq, next.Attempt, next.Lookups, next.Retrying, next.NotBefore = 0, 0, 0, time.Time{}, time.Time{}
	next.Origin.Run = "" // its run was summarized with the dead job
	next.Origin.ReplayOf = id
	switch m.Step {
	case job.StepPoll:
		// The cloud job is followed again from its reference, for a whole
		// deadline from now: what was given up on was reading its state.
		next.Deadline = now.Add(s.deadline(m.Spec.Op))
	default:
		// The retry budget and the deadline run from Created: a fresh one.
		next.Created, next.Started, next.Deadline = now, time.Time{}, time.Time{}
	}
	if err := s.send(ctx, next, 0); err != nil {
		return r, err
	}
	s.putState(ctx, next, "queued")
	d.ReplayedAs, d.ReplayedAt = r.JobID, now.UTC()
	if b, err := json.Marshal(d); err == nil {
		if err := s.d.Ledger.Put(ctx, keyDead(id), b); err != nil {
			// The replay is on its way; the record says so once rewritten,
			// and a second replay finds the job's state meanwhile.
			loggerFrom(ctx, s.log).Warn("dead letter not marked replayed", "dead", id, "err", err)
		}
	}
	loggerFrom(ctx, s.log).Info("dead letter replayed", "dead", id, "job", r.JobID, "step", string(m.Step))
	r.Status, r.State = Replayed, "queued"
	return r, nil
}

// DropDead removes a dead letter's record: the operator has dealt with it.
// The dead job's outcome stays; only the record is gone.
func (s *Service) DropDead(ctx context.Context, id string) error {
	if _, ok, err := s.deadLetterRecord(ctx, id); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("dead letter %s: %w", id, ErrNoDeadLetter)
	}
	return wrapLedger(s.d.Ledger.Delete(ctx, keyDead(id)))
}

// DeadText lists the dead letters still waiting in a few short lines for
// chat, newest first, at most limit of them.
func (s *Service) DeadText(ctx context.Context, limit int) (string, error) {
	dl, err := s.DeadLetters(ctx)
	if err != nil {
		return "", err
	}
	var waiting []DeadLetter
	for i := len(dl) - 1; i >= 0; i-- {
		if dl[i].ReplayedAs == "" {
			waiting = append(waiting, dl[i])
		}
	}
	if len(waiting) == 0 {
		return "No dead letters: nothing was given up on.", nil
	}
	lines := []string{fmt.Sprintf("%d dead letter(s) waiting (replay with `backupflow dead replay <job>`):", len(waiting))}
	for i, d := range waiting {
		if i == limit {
			lines = append(lines, fmt.Sprintf("…and %d more (backupflow dead list)", len(waiting)-i))
			break
		}
		why := strings.Join(strings.Fields(d.Why), " ")
		if r := []rune(why); len(r) > 140 {
			why = string(r[:139]) + "…"
		}
		lines = append(lines, fmt.Sprintf("- %s %s, %s, %d tries: %s", d.JobID, d.What, d.When.UTC().Format(time.RFC3339), d.Tries, why))
	}
	return strings.Join(lines, "\n"), nil
}

// deadWaiting counts the dead letters neither replayed nor dropped, for the
// nightly summary. Best effort: -1 when the ledger could not tell.
func (s *Service) deadWaiting(ctx context.Context) int {
	keys, err := s.d.Ledger.List(ctx, "dead/")
	if err != nil {
		s.log.Warn("run summary: dead letters not counted", "err", err)
		return -1
	}
	n := 0
	for _, k := range keys {
		d, ok, err := s.deadLetterRecord(ctx, strings.TrimPrefix(k, "dead/"))
		if err != nil {
			s.log.Warn("run summary: a dead letter is unreadable", "key", k, "err", err)
			continue
		}
		if ok && d.ReplayedAs == "" {
			n++
		}
	}
	return n
}
