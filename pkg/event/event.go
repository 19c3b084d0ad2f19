package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Payload size limits of the platforms. Decode refuses anything larger than
// MaxPayloadBytes; AsyncPayloadBytes is noted because SCF rejects larger
// asynchronous events (timer, COS, CMQ) before they reach a function, so an
// async payload above it indicates a synchronous caller.
const (
	MaxPayloadBytes   = 6 << 20   // SCF and Lambda synchronous invoke limit
	AsyncPayloadBytes = 128 << 10 // SCF asynchronous invoke limit
)

var (
	// ErrTooLarge is wrapped by Decode for payloads over MaxPayloadBytes.
	ErrTooLarge = errors.New("payload too large")
	// ErrMalformed is wrapped by Decode when the payload is not a trigger
	// event it can read, and by record errors for unreadable records.
	ErrMalformed = errors.New("malformed event")
)

// Timer is a schedule firing: an SCF timer trigger or an EventBridge
// schedule. Message is the trigger's configured argument, kept raw (it may
// be free text or a JSON target selection). Time is zero when the platform
// did not send one (an EventBridge schedule with a custom Input).
type Timer struct {
	Time     time.Time
	Name     string // SCF trigger name or EventBridge rule name
	Message  string
	Platform string // "scf" or "aws"
}

// Object is a created object in a bucket (COS or S3).
type Object struct {
	Platform  string // "cos" or "s3"
	Bucket    string // COS: <name>-<appid>, as used in COS hostnames and APIs
	AppID     string // COS only
	Region    string // long form: ap-guangzhou, us-east-1
	Key       string // the object's real key, decoded
	ETag      string // without quotes; empty when the event has none
	VersionID string
	EventName string // as delivered: cos:ObjectCreated:Put, ObjectCreated:Put
	Size      int64
	Time      time.Time
	RequestID string
}

// Message is one queue message (CMQ topic push or SQS). Err is set when the
// record could not be read; ID is then kept if it was readable, so the
// caller can still report the record in a partial-batch failure.
type Message struct {
	Platform string // "cmq" or "sqs"
	ID       string
	Body     []byte
	Receives int      // delivery count; 0 when the platform does not say (CMQ topic)
	Tags     []string // CMQ message tags
	Err      error
}

// Skip is a record that was read but is not for us (for example a COS
// delete event); it is neither an error nor work.
type Skip struct {
	Index  int
	Reason string
}

// RecordError is a record of a batch that could not be read.
type RecordError struct {
	Index int
	Err   error
}

func (e *RecordError) Error() string { return fmt.Sprintf("event: record %d: %v", e.Index, e.Err) }

func (e *RecordError) Unwrap() error { return e.Err }

// Trigger is a decoded payload. Exactly one of Timer, Objects (with
// Skipped) and Messages describes it; RecordErrors holds records of a batch
// that could not be read and did not fail the rest.
type Trigger struct {
	Timer        *Timer
	Objects      []Object
	Messages     []Message
	Skipped      []Skip
	RecordErrors []error
}

// BatchResponse is the partial-batch reply of an SQS-triggered Lambda
// function: the listed messages are redelivered, the rest are deleted.
type BatchResponse struct {
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
}

// BatchItemFailure names one failed message by its message ID.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// NewBatchResponse returns the reply failing exactly the given message IDs;
// with none, every message of the batch counts as done.
func NewBatchResponse(failedIDs ...string) BatchResponse {
	r := BatchResponse{BatchItemFailures: make([]BatchItemFailure, 0, len(failedIDs))}
	for _, id := range failedIDs {
		r.BatchItemFailures = append(r.BatchItemFailures, BatchItemFailure{ItemIdentifier: id})
	}
	return r
}

// Decode detects the trigger of payload and decodes it. Only a payload that
// cannot be read as any trigger fails; a bad record of a batch is reported in
// RecordErrors (or, for a queue message, in its Message.Err) and the others
// are still returned.
//
// A JSON object that matches no known trigger is taken as an EventBridge
// schedule whose rule carries a custom Input (which replaces the event): a
// Timer with Platform "aws" and the JSON text as Message; a JSON string
// Input becomes the Message text itself.
func Decode(payload []byte) (*Trigger, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("event: %d bytes over the %d byte limit: %w", len(payload), MaxPayloadBytes, ErrTooLarge)
	}
	payload = bytes.TrimSpace(payload)
	if len(payload) > 0 && payload[0] == '"' {
		var s string
		if err := json.Unmarshal(payload, &s); err != nil {
			return nil, fmt.Errorf("event: %w: %v", ErrMalformed, err)
		}
		return &Trigger{Timer: &Timer{Platform: "aws", Message: s}}, nil
	}
	// Keys are matched exactly: encoding/json would also take "type" for "Type".
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil || top == nil {
		return nil, fmt.Errorf("event: %w: not a JSON object", ErrMalformed)
	}
	switch {
	case has(top, "Records"):
		return decodeRecords(top["Records"])
	case str(top["Type"]) == "Timer":
		return decodeSCFTimer(payload)
	case has(top, "source") && has(top, "detail-type"):
		return decodeSchedule(top)
	}
	return &Trigger{Timer: &Timer{Platform: "aws", Message: string(payload)}}, nil
}

func has(m map[string]json.RawMessage, k string) bool {
	_, ok := m[k]
	return ok
}

// str returns raw as a string if it is a JSON string, else "".
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func decodeSCFTimer(payload []byte) (*Trigger, error) {
	var e struct {
		TriggerName string `json:"TriggerName"`
		Time        string `json:"Time"`
		Message     string `json:"Message"`
	}
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("event: scf timer: %w: %v", ErrMalformed, err)
	}
	t := &Timer{Platform: "scf", Name: e.TriggerName, Message: e.Message}
	if e.Time != "" {
		tm, err := time.Parse(time.RFC3339, e.Time)
		if err != nil {
			return nil, fmt.Errorf("event: scf timer: %w: Time %q is not RFC 3339", ErrMalformed, e.Time)
		}
		t.Time = tm.UTC()
	}
	return &Trigger{Timer: t}, nil
}

func decodeSchedule(top map[string]json.RawMessage) (*Trigger, error) {
	source, detailType := str(top["source"]), str(top["detail-type"])
	if source != "aws.events" || detailType != "Scheduled Event" {
		return nil, fmt.Errorf("event: %w: eventbridge event %q from %q is not a schedule", ErrMalformed, detailType, source)
	}
	t := &Timer{Platform: "aws"}
	if s := str(top["time"]); s != "" {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("event: eventbridge schedule: %w: time %q is not RFC 3339", ErrMalformed, s)
		}
		t.Time = tm.UTC()
	}
	var resources []string
	if json.Unmarshal(top["resources"], &resources) == nil && len(resources) > 0 {
		t.Name = ruleName(resources[0])
	}
	// A scheduled event's detail is {}; anything else is worth passing on.
	if d := bytes.TrimSpace(top["detail"]); len(d) > 0 && !bytes.Equal(d, []byte("{}")) && !bytes.Equal(d, []byte("null")) {
		t.Message = string(d)
	}
	return &Trigger{Timer: t}, nil
}

// ruleName takes the rule name from arn:aws:events:<region>:<acct>:rule/[<bus>/]<name>.
func ruleName(arn string) string {
	if i := bytes.LastIndexByte([]byte(arn), '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func decodeRecords(raw json.RawMessage) (*Trigger, error) {
	var records []json.RawMessage
	if err := json.Unmarshal(raw, &records); err != nil {
		return nil, fmt.Errorf("event: %w: Records is not a list", ErrMalformed)
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("event: %w: Records is empty", ErrMalformed)
	}
	tr := &Trigger{}
	for i, rec := range records {
		var r map[string]json.RawMessage
		if err := json.Unmarshal(rec, &r); err != nil || r == nil {
			tr.RecordErrors = append(tr.RecordErrors, &RecordError{Index: i, Err: fmt.Errorf("%w: record is not a JSON object", ErrMalformed)})
			continue
		}
		switch {
		case has(r, "cos"):
			tr.addObject(i, decodeCOS(rec))
		case has(r, "CMQ"):
			tr.Messages = append(tr.Messages, decodeCMQ(r["CMQ"]))
		case str(r["eventSource"]) == "aws:s3":
			tr.addObject(i, decodeS3(rec))
		case str(r["eventSource"]) == "aws:sqs":
			tr.Messages = append(tr.Messages, decodeSQS(r))
		default:
			tr.RecordErrors = append(tr.RecordErrors, &RecordError{Index: i, Err: fmt.Errorf("%w: unsupported record source", ErrMalformed)})
		}
	}
	return tr, nil
}

// objectResult is what an object record decoder found: an object, a reason
// to skip the record, or an error.
type objectResult struct {
	obj  Object
	skip string
	err  error
}

func (tr *Trigger) addObject(i int, r objectResult) {
	switch {
	case r.err != nil:
		tr.RecordErrors = append(tr.RecordErrors, &RecordError{Index: i, Err: r.err})
	case r.skip != "":
		tr.Skipped = append(tr.Skipped, Skip{Index: i, Reason: r.skip})
	default:
		tr.Objects = append(tr.Objects, r.obj)
	}
}
