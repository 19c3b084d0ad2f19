package objstore

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/backupflow/backupflow/pkg/apierr"
)

func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "NoSuchKey"
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusPreconditionFailed:
		return "PreconditionFailed"
	case http.StatusServiceUnavailable:
		return "SlowDown"
	}
	if status >= 500 {
		return "InternalError"
	}
	return "HTTP" + strconv.Itoa(status)
}

// httpKind classifies an object-store answer: throttling retries later,
// other server faults are ambiguous, client errors are final.
func httpKind(status int, code string) apierr.Kind {
	switch {
	case code == "SlowDown" || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return apierr.RetryLater
	case status >= 500 || status == 0:
		return apierr.RetryAfterLookup
	}
	return apierr.Permanent
}

// netError marks a failure below HTTP (dropped connection, reset, timeout)
// as a net.Error, which apierr.KindOf treats as ambiguous.
type netError struct{ err error }

func (e *netError) Error() string   { return e.err.Error() }
func (e *netError) Unwrap() error   { return e.err }
func (e *netError) Timeout() bool   { return false }
func (e *netError) Temporary() bool { return true }

// transportErr strips the request URL a *url.Error quotes (for a presigned
// request it would hold the signature) and keeps the cause. Failures of the
// exchange itself become ambiguous; anything else (the SDK refusing a key)
// stays as it is, which apierr.KindOf treats as permanent.
func transportErr(err error) error {
	var ue *url.Error
	isTransport := errors.As(err, &ue)
	if isTransport {
		err = ue.Err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ne net.Error
	if isTransport || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &netError{err: err}
	}
	return err
}

// maxGet bounds Get: it is meant for ledger records, not backups.
const maxGet = 16 << 20
