package apierr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Kind says what a caller should do about an error. The zero value is
// Permanent so that an unclassified error never loops forever.
type Kind int

const (
	// Permanent: retrying cannot help (auth, not found, invalid input).
	// The job fails now with the cloud's code, message and request id.
	Permanent Kind = iota
	// RetryLater: throttling or a busy instance. Re-enqueue with backoff and
	// jitter; the request certainly did not take effect.
	RetryLater
	// RetryAfterLookup: an ambiguous server fault or a transport failure. The
	// request may or may not have taken effect, so look for the job first and
	// only then retry, a bounded number of times.
	RetryAfterLookup
)

func (k Kind) String() string {
	switch k {
	case Permanent:
		return "permanent"
	case RetryLater:
		return "retry-later"
	case RetryAfterLookup:
		return "retry-after-lookup"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Cloud names used in Error.Cloud.
const (
	Tencent = "tencent"
	Huawei  = "huawei"
	CMQ     = "cmq"
)

// Error is a cloud API error with everything support needs: the cloud's own
// code, message and request id stay reachable through errors.As.
type Error struct {
	Cloud      string // Tencent, Huawei, CMQ
	Service    string // "cdb", "sqlserver", "mongodb", "rds", ...
	Action     string // "CreateBackup", "POST /v3/{project_id}/backups", ...
	Code       string // the cloud's error code, e.g. "OperationDenied.ActionInProcess"
	Message    string // the cloud's message
	RequestID  string
	HTTPStatus int // the exchange's HTTP status; 0 when no answer came (dropped connection, timeout)
	Kind       Kind
	Err        error // underlying SDK or transport error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	if e.Action != "" {
		b.WriteString(" ")
		b.WriteString(e.Action)
	}
	b.WriteString(": ")
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New builds an Error and classifies its code (and, for answers that are
// not the API's, its HTTP status) with the table.
func New(cloud, service, action, code, message, requestID string, httpStatus int, cause error) *Error {
	return &Error{
		Cloud: cloud, Service: service, Action: action,
		Code: code, Message: message, RequestID: requestID,
		HTTPStatus: httpStatus, Kind: ClassifyHTTP(cloud, code, httpStatus), Err: cause,
	}
}

// ErrInvalidInput marks input rejected before any call was made (bad instance
// id, illegal backup name). It is always Permanent.
var ErrInvalidInput = errors.New("invalid input")

// Invalid returns a Permanent validation error wrapping ErrInvalidInput.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}

// ErrAmbiguous marks an answer that does not say whether the request took
// effect (a 200 whose body does not decode, a create reply without its task
// id). It is always RetryAfterLookup: look for the job, then retry.
var ErrAmbiguous = errors.New("ambiguous answer")

// Ambiguous returns a RetryAfterLookup error wrapping ErrAmbiguous.
func Ambiguous(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrAmbiguous, fmt.Sprintf(format, args...))
}

// KindOf tells what to do about err. Cloud errors carry their own kind;
// transport failures and timeouts are ambiguous (the call may have landed);
// everything else is Permanent.
func KindOf(err error) Kind {
	if err == nil {
		return Permanent
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Kind
	}
	if errors.Is(err, ErrInvalidInput) {
		return Permanent
	}
	if errors.Is(err, ErrAmbiguous) {
		return RetryAfterLookup
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return RetryAfterLookup
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return RetryAfterLookup
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return RetryAfterLookup
	}
	return Permanent
}

// Code returns the cloud error code in err's chain, or "".
func Code(err error) string {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}
