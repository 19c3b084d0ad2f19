// Package driver holds what the object-store drivers (cosstore, s3store)
// share and applications never need: how an HTTP answer is classified, how
// a transport failure is scrubbed of its URL, and the store-wide limits.
package driver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
)

// CodeForStatus names an error answer that came without a code.
func CodeForStatus(status int) string {
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

// Kind classifies an object-store answer: throttling retries later,
// other server faults are ambiguous, client errors are final.
func Kind(status int, code string) apierr.Kind {
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

// TransportErr strips the request URL a *url.Error quotes (for a presigned
// request it would hold the signature) and keeps the cause. Failures of the
// exchange itself become ambiguous; anything else (the SDK refusing a key)
// stays as it is, which apierr.KindOf treats as permanent.
func TransportErr(err error) error {
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

// MaxGet bounds Get: it is meant for ledger records, not backups.
const MaxGet = 16 << 20

// PresignTTL is the validity a presigned URL gets for a requested ttl:
// objstore.DefaultPresignTTL for none, at most objstore.MaxPresignTTL.
func PresignTTL(ttl time.Duration) time.Duration {
	switch {
	case ttl <= 0:
		return objstore.DefaultPresignTTL
	case ttl > objstore.MaxPresignTTL:
		return objstore.MaxPresignTTL
	}
	return ttl
}
