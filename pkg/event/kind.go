package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind names one trigger shape a function may be invoked with. Each deployed
// function lists the kinds it accepts (see pkg/function); a payload of any
// other kind is refused before anything happens.
type Kind string

// The kinds this project knows. A drain timer is an SCF timer whose Message
// is "drain": it is told apart from a nightly timer here, once, so that a
// function that only drains never mistakes a nightly timer for its own.
const (
	SCFTimer      Kind = "scf-timer"            // SCF timer trigger: the nightly run, Message may narrow it
	SCFDrainTimer Kind = "scf-drain-timer"      // SCF timer trigger with Message "drain"
	Schedule      Kind = "eventbridge-schedule" // EventBridge rule/Scheduler firing, or its custom Input
	CMQMessages   Kind = "cmq-messages"         // CMQ topic push batch (SCF)
	SQSMessages   Kind = "sqs-messages"         // SQS batch (Lambda)
	COSObjects    Kind = "cos-objects"          // COS object events (SCF)
	S3Objects     Kind = "s3-objects"           // S3 object events (Lambda)
	HTTPRequest   Kind = "http-request"         // API gateway / function URL request
)

// DrainMessage is the timer argument that makes a timer drain the
// function's queue instead of running the nightly fan-out. Only the
// Message counts, never the trigger's name: names are free text.
const DrainMessage = "drain"

// ErrRejected is wrapped by DecodeFor when a payload is readable but of a
// kind the function does not accept, or matches no known trigger at all.
var ErrRejected = errors.New("trigger not accepted")

// RejectedError says what arrived and what would have been accepted.
type RejectedError struct {
	Got     string // a Kind, or a description of an unknown payload's shape
	Accepts []Kind
}

func (e *RejectedError) Error() string {
	acc := make([]string, len(e.Accepts))
	for i, k := range e.Accepts {
		acc[i] = string(k)
	}
	return fmt.Sprintf("event: got %s; this function accepts %s", e.Got, strings.Join(acc, ", "))
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

// unknownError is Decode's error for a JSON object that is no trigger.
type unknownError struct{ shape string }

func (e *unknownError) Error() string {
	return "event: " + ErrMalformed.Error() + ": " + e.shape + " matches no trigger"
}

func (e *unknownError) Unwrap() error { return ErrMalformed }

// DecodeFor decodes payload and refuses it, with a *RejectedError, unless it
// is one of the accepted kinds. A payload that matches no trigger is
// refused the same way, naming its shape (its keys, never its values).
func DecodeFor(payload []byte, accepts ...Kind) (*Trigger, error) {
	tr, err := Decode(payload)
	var ue *unknownError
	if errors.As(err, &ue) {
		return nil, &RejectedError{Got: ue.shape, Accepts: accepts}
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(accepts, tr.Kind) {
		return nil, &RejectedError{Got: string(tr.Kind) + " event", Accepts: accepts}
	}
	return tr, nil
}

// shapeOf describes an unknown object by its keys (sorted, at most eight,
// each cut short): enough to recognise a console test event or a stray
// request, without echoing any value.
func shapeOf(top map[string]json.RawMessage) string {
	if len(top) == 0 {
		return "an empty JSON object"
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		if len(k) > 32 {
			k = k[:32] + "…"
		}
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	slices.Sort(keys)
	more := ""
	if len(keys) > 8 {
		more = fmt.Sprintf(" and %d more", len(keys)-8)
		keys = keys[:8]
	}
	return "a JSON object with keys " + strings.Join(keys, ", ") + more
}
