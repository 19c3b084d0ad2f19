package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// Trigger is a decoded payload. Kind says which trigger it is; exactly one
// of Timer, Objects (with Skipped) and Messages describes it, except for an
// HTTPRequest, which Decode only recognises (the chat function reads it as
// HTTP). RecordErrors holds records of a batch that could not be read and
// did not fail the rest.
type Trigger struct {
	Kind         Kind
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

// SelectionKeys are the keys a timer's selection may carry (flow.Selection's
// fields; a test in pkg/function keeps the two equal). A bare JSON object is
// taken as an EventBridge schedule's custom Input only when it has at least
// one key and no other than these and ScheduledTimeKey: anything else, {}
// and the Lambda console's {"key1":"value1",...} among them, is no trigger.
var SelectionKeys = []string{"targets"}

// ScheduledTimeKey is the key of a custom Input that carries the scheduled
// time: template.yaml sets it to EventBridge Scheduler's context attribute
// <aws.scheduler.scheduled-time>, which is the same on every retry of one
// scheduled invocation. Decode moves it to Timer.Time and leaves the rest of
// the object (the selection, if any) as the Message.
const ScheduledTimeKey = "scheduledTime"

// Decode detects the trigger of payload by its documented shape and decodes
// it. A payload that matches no trigger fails (wrapping ErrMalformed); there
// is no catch-all. A bad record of a batch is reported in RecordErrors (or,
// for a queue message, in its Message.Err) and the others are still
// returned.
//
// An EventBridge schedule whose rule or Scheduler target carries a custom
// Input delivers the Input instead of the event: a JSON object of
// SelectionKeys (and ScheduledTimeKey) becomes a Timer with Platform "aws",
// the scheduled time as Time and the selection's JSON text as Message; a
// JSON string becomes the Message text itself. Functions decode
// the Message strictly (flow.ParseSelection).
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
		return &Trigger{Kind: Schedule, Timer: &Timer{Platform: "aws", Message: s}}, nil
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
	case isHTTP(top):
		return &Trigger{Kind: HTTPRequest}, nil
	case isSelection(top):
		return decodeInput(top, payload)
	}
	return nil, &unknownError{shape: shapeOf(top)}
}

// isHTTP recognises the request events of API gateways and function URLs:
// Lambda function URL / HTTP API 2.0 (rawPath, requestContext.http), API
// Gateway REST 1.0 and SCF API gateway (httpMethod, requestContext), SCF
// function URL (httpMethod without requestContext).
func isHTTP(top map[string]json.RawMessage) bool {
	return has(top, "httpMethod") || has(top, "rawPath") || has(top, "requestContext")
}

func isSelection(top map[string]json.RawMessage) bool {
	if len(top) == 0 {
		return false
	}
	for k := range top {
		if !slices.Contains(SelectionKeys, k) && k != ScheduledTimeKey {
			return false
		}
	}
	return true
}

// decodeInput reads a schedule's custom Input. The scheduled time, when
// present, must be RFC 3339: an unsubstituted placeholder (an Input copied
// to a rule, which has no context attributes) fails rather than silently
// falling back to the arrival time.
func decodeInput(top map[string]json.RawMessage, payload []byte) (*Trigger, error) {
	t := &Timer{Platform: "aws", Message: string(payload)}
	raw, ok := top[ScheduledTimeKey]
	if !ok {
		return &Trigger{Kind: Schedule, Timer: t}, nil
	}
	s := str(raw)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("event: schedule input: %w: %s %q is not an RFC 3339 time", ErrMalformed, ScheduledTimeKey, s)
	}
	t.Time = tm.UTC()
	delete(top, ScheduledTimeKey)
	t.Message = ""
	if len(top) > 0 {
		rest, err := json.Marshal(top)
		if err != nil {
			return nil, fmt.Errorf("event: schedule input: %w: %v", ErrMalformed, err)
		}
		t.Message = string(rest)
	}
	return &Trigger{Kind: Schedule, Timer: t}, nil
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
	kind := SCFTimer
	if strings.EqualFold(strings.TrimSpace(e.Message), DrainMessage) {
		kind = SCFDrainTimer
	}
	if e.Time != "" {
		tm, err := time.Parse(time.RFC3339, e.Time)
		if err != nil {
			return nil, fmt.Errorf("event: scf timer: %w: Time %q is not RFC 3339", ErrMalformed, e.Time)
		}
		t.Time = tm.UTC()
	}
	return &Trigger{Kind: kind, Timer: t}, nil
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
	return &Trigger{Kind: Schedule, Timer: t}, nil
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
	// A batch comes from one source: its first recognised record names the
	// kind, and a record of another source is a bad record of that batch.
	tr := &Trigger{}
	for i, rec := range records {
		var r map[string]json.RawMessage
		if err := json.Unmarshal(rec, &r); err != nil || r == nil {
			tr.RecordErrors = append(tr.RecordErrors, &RecordError{Index: i, Err: fmt.Errorf("%w: record is not a JSON object", ErrMalformed)})
			continue
		}
		kind := recordKind(r)
		if kind == "" {
			tr.RecordErrors = append(tr.RecordErrors, &RecordError{Index: i, Err: fmt.Errorf("%w: unsupported record source", ErrMalformed)})
			continue
		}
		if tr.Kind == "" {
			tr.Kind = kind
		}
		if kind != tr.Kind {
			tr.RecordErrors = append(tr.RecordErrors, &RecordError{Index: i, Err: fmt.Errorf("%w: a %s record in a %s batch", ErrMalformed, kind, tr.Kind)})
			continue
		}
		switch kind {
		case COSObjects:
			tr.addObject(i, decodeCOS(rec))
		case CMQMessages:
			tr.Messages = append(tr.Messages, decodeCMQ(r["CMQ"]))
		case S3Objects:
			tr.addObject(i, decodeS3(rec))
		case SQSMessages:
			tr.Messages = append(tr.Messages, decodeSQS(r))
		}
	}
	if tr.Kind == "" {
		return nil, &unknownError{shape: fmt.Sprintf("a Records batch of %d records from no known source", len(records))}
	}
	return tr, nil
}

func recordKind(r map[string]json.RawMessage) Kind {
	switch {
	case has(r, "cos"):
		return COSObjects
	case has(r, "CMQ"):
		return CMQMessages
	case str(r["eventSource"]) == "aws:s3":
		return S3Objects
	case str(r["eventSource"]) == "aws:sqs":
		return SQSMessages
	}
	return ""
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
