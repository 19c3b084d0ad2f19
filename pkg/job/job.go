package job

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Version is the envelope version this code writes. Decode accepts it and
// rejects newer ones, so a rolled-back function never half-reads a message.
const Version = 1

// MaxSize caps an encoded envelope. SCF's async limit is 128 KB; a real
// envelope is under 2 KB, so anything near the cap is a bug or an attack.
const MaxSize = 64 << 10

// Step is what the receiving function does with a message.
type Step string

const (
	StepCreate Step = "create" // start the backup or import (after looking for one already started)
	StepPoll   Step = "poll"   // read the job's state; finish or look again later
	// StepRetain follows a nightly run (RetainRun): without an instance it
	// waits for the run's summary and fans out one retain step per target;
	// with one, it expires that instance's old backupflow backups.
	StepRetain Step = "retain"
)

// Object is the source of an import: the uploaded backup file.
type Object struct {
	Platform  string `json:"platform"` // "cos" | "s3"
	Bucket    string `json:"bucket"`
	Region    string `json:"region,omitempty"`
	Key       string `json:"key"`
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version,omitempty"`
	Size      int64  `json:"size,omitempty"`
}

// Origin says what caused the job and where its result goes.
type Origin struct {
	Source    string `json:"source"`             // "timer" | "cos" | "s3" | "chat" | "cli"
	Run       string `json:"run,omitempty"`      // nightly run id, for the one summary per run
	Platform  string `json:"platform,omitempty"` // chat platform
	User      string `json:"user,omitempty"`
	Chat      string `json:"chat,omitempty"`
	Thread    string `json:"thread,omitempty"`
	MessageID string `json:"message,omitempty"`
	// ReplayOf is the dead-lettered job this one replays (backupflow dead replay).
	ReplayOf string `json:"replayOf,omitempty"`
	// Reply is the platform's short-lived handle to the conversation the
	// command came from (Slack response_url, DingTalk sessionWebhook, WeCom
	// robot response_url), used for the result while ReplyExpires is ahead.
	// It is a bearer credential: it travels in the message and the ledger's
	// job records (both private), and never in a log line (LogValue).
	Reply        string    `json:"reply,omitempty"`
	ReplyExpires time.Time `json:"replyExpires,omitzero"`
}

// LogValue keeps Reply out of logs.
func (o Origin) LogValue() slog.Value {
	return slog.GroupValue(slog.String("source", o.Source), slog.String("run", o.Run),
		slog.String("platform", o.Platform), slog.String("user", o.User), slog.String("chat", o.Chat),
		slog.String("message", o.MessageID), slog.String("replayOf", o.ReplayOf), slog.Bool("reply", o.Reply != ""))
}

// Message is the envelope. State travels in it; functions keep none.
type Message struct {
	V      int           `json:"v"`
	JobID  string        `json:"job"`
	Step   Step          `json:"step"`
	Spec   provider.Spec `json:"spec"`
	Object *Object       `json:"object,omitempty"`
	Ref    provider.Ref  `json:"ref,omitempty"`
	// Seq numbers the hand-offs of one job (0 for the first message). A
	// redelivered or duplicated message repeats a Seq already handled, which
	// is how a duplicate is recognised and dropped.
	Seq int `json:"seq"`
	// Attempt counts throttled or busy tries of the current step, Lookups
	// ambiguous faults (each retried after a lookup); both reset on progress.
	Attempt int `json:"attempt,omitempty"`
	Lookups int `json:"lookups,omitempty"`
	// Tries is how many tries the create step took to start (or adopt) the
	// cloud job, kept past the reset of Attempt and Lookups so the outcome
	// can say how many it took.
	Tries int `json:"tries,omitempty"`
	// Retrying is when the current step first failed with a transient
	// fault: its retry budget is time counted from here. Reset on progress.
	Retrying time.Time `json:"retrying,omitzero"`
	// PollFloor is the shortest interval between this job's status checks,
	// set by the nightly fan-out so the whole fleet's checks fit the
	// product's status-call rate limit.
	PollFloor time.Duration `json:"pollFloor,omitempty"`
	// Cold is set when the instance had no duration history at the job's
	// start and its fan-out's checks press on the status limit (PollFloor
	// at least PollMin): its checks climb the ladder at the first night's
	// share.
	Cold bool `json:"cold,omitempty"`
	// PrevCheck is when the job was last seen running: with the check that
	// finds it ended, it brackets the job's true end for the duration history.
	PrevCheck time.Time `json:"prevCheck,omitzero"`
	Polls     int       `json:"polls,omitempty"`
	// LadderAt is set when the job's reported progress placed its next
	// check before the one the poll ladder would make: the ladder's, which
	// that check, if it finds the job still running, falls back to.
	LadderAt time.Time `json:"ladderAt,omitzero"`
	// Created is when the job was caused; Started when the cloud job was
	// started or adopted; Deadline ends polling as "stuck".
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
	// NotBefore holds a message the queue delivered early because the wanted
	// delay exceeded the queue's maximum; the receiver re-sends the rest.
	NotBefore time.Time `json:"notBefore,omitzero"`
	Origin    Origin    `json:"origin"`
	// RetainRun is the nightly run a retain step follows.
	RetainRun string `json:"retainRun,omitempty"`
	// RetainAllot, set, makes an instance's retain step its delete phase:
	// the most it may delete, its share of the run's fleet-wide cap.
	RetainAllot int `json:"retainAllot,omitempty"`
}

// Encode marshals the envelope, stamping the version.
func (m Message) Encode() ([]byte, error) {
	m.V = Version
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", m.JobID, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("encode job %s: envelope is %d bytes, over the %d limit", m.JobID, len(b), MaxSize)
	}
	return b, nil
}

// ErrMalformed marks a message that can never be processed; it is
// dead-lettered, not retried.
var ErrMalformed = errors.New("malformed job message")

// Decode parses and checks an envelope.
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxSize {
		return m, fmt.Errorf("%w: %d bytes, over the %d limit", ErrMalformed, len(b), MaxSize)
	}
	// Unmarshal is the fast path: when the whole input is one value it decodes
	// exactly what the Decoder would, without the Decoder's two copies of the
	// input. Anything else (trailing bytes, which the Decoder has always
	// accepted, or an error) goes through the Decoder as before, so the
	// accepted envelopes and the error texts stay the same.
	if json.Unmarshal(b, &m) != nil {
		m = Message{}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&m); err != nil {
			return m, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	switch {
	case m.V == 0 || m.V > Version:
		return m, fmt.Errorf("%w: version %d (this build reads 1..%d)", ErrMalformed, m.V, Version)
	case m.JobID == "":
		return m, fmt.Errorf("%w: no job id", ErrMalformed)
	case m.Step != StepCreate && m.Step != StepPoll && m.Step != StepRetain:
		return m, fmt.Errorf("%w: job %s: unknown step %q", ErrMalformed, m.JobID, m.Step)
	case m.Step == StepRetain && (m.RetainRun == "" || (m.Spec.InstanceID != "") != (m.Spec.Product != "")):
		return m, fmt.Errorf("%w: job %s: retain without a run, or an instance without its product", ErrMalformed, m.JobID)
	case m.Step == StepCreate && (m.Spec.Op == "" || m.Spec.Product == "" || m.Spec.InstanceID == ""):
		return m, fmt.Errorf("%w: job %s: create without a spec (op, product and instance are required)", ErrMalformed, m.JobID)
	case m.Step == StepPoll && m.Ref == "":
		return m, fmt.Errorf("%w: job %s: poll without a cloud reference", ErrMalformed, m.JobID)
	case m.Seq < 0 || m.Attempt < 0 || m.Lookups < 0 || m.Tries < 0 || m.RetainAllot < 0:
		return m, fmt.Errorf("%w: job %s: negative counter", ErrMalformed, m.JobID)
	}
	if m.Spec.Op == provider.Import && m.Object == nil {
		return m, fmt.Errorf("%w: job %s: import without a source object", ErrMalformed, m.JobID)
	}
	return m, nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID derives a job id from what caused the job: the same cause always
// gives the same id, so every duplicate of a cause lands on one job.
//
//	nightly: NewID("nightly", slot, instanceID)
//	upload:  NewID("object", bucket, key, etagOrVersion)
//	chat:    NewID("chat", platform, messageID)
func NewID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return "j" + idEncoding.EncodeToString(h.Sum(nil))[:19]
}

// Name is the deterministic backup/migration name for a job. It satisfies
// every product's rules (leading letter, 4-64 letters, digits and '-').
func Name(jobID string) string { return "backupflow-" + jobID }

// Slot is the nightly run's schedule slot: the timer's time to the minute, so
// a timer delivered twice (or retried) keeps one slot.
func Slot(t time.Time) string { return t.UTC().Truncate(time.Minute).Format("20060102T1504Z") }
