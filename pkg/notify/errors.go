package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Error is a failed delivery to one channel. It never holds a credential:
// transport errors are stripped of their URL and scrubbed of every secret of
// the channel before they are stored.
type Error struct {
	Channel    string        // channel kind: "slack", "wecom", "dingtalk", "feishu", "lark", "webhook"
	StatusCode int           // HTTP status; 0 when no response arrived
	Code       string        // the platform's code: Slack's short text, errcode, Feishu code
	Message    string        // the platform's message, shortened
	RetryAfter time.Duration // how long the platform asked us to wait (HTTP 429), or 0
	Err        error         // transport cause (context.DeadlineExceeded, net errors), or nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("notify: ")
	b.WriteString(e.Channel)
	b.WriteString(": ")
	switch {
	case e.Err != nil:
		b.WriteString("post: ")
		b.WriteString(e.Err.Error())
	case e.StatusCode != 0 && e.StatusCode != http.StatusOK || e.Code == "":
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		if e.Code != "" {
			b.WriteString(": ")
			b.WriteString(e.Code)
		}
	default:
		b.WriteString("code ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether sending the same message again later can
// succeed: throttling, server faults and transport failures. A transport
// failure may hide a delivered post, so a retry can show the notice twice;
// for a notice that is the lesser harm.
func (e *Error) Retryable() bool {
	if e.Err != nil || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 {
		return true
	}
	return rateLimitCodes[e.Channel+":"+e.Code]
}

// rateLimitCodes are the throttling codes the platforms return with HTTP 200.
// Feishu 11232 is documented (facts/chatops.md §5.2); WeCom 45009 and
// DingTalk 130101 are widely reported but not confirmed from the vendors.
var rateLimitCodes = map[string]bool{
	"wecom:45009":     true,
	"dingtalk:130101": true,
	"feishu:11232":    true,
	"lark:11232":      true,
}

// RetryAfter returns how long the platform asked to wait before the next
// post, when err is a retryable delivery error; ok is false otherwise.
func RetryAfter(err error) (wait time.Duration, ok bool) {
	var e *Error
	if errors.As(err, &e) && e.Retryable() {
		return e.RetryAfter, true
	}
	return 0, false
}

// redactor hides a channel's secrets in any text that might echo them.
type redactor []string

const redacted = "[redacted]"

func newRedactor(secrets ...string) redactor {
	var r redactor
	for _, s := range secrets {
		if s == "" {
			continue
		}
		r = append(r, s, url.QueryEscape(s), url.PathEscape(s))
	}
	// Longest first, so a URL is replaced whole before the key inside it.
	sort.Slice(r, func(i, j int) bool { return len(r[i]) > len(r[j]) })
	return r
}

func (r redactor) redact(s string) string {
	for _, secret := range r {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// scrub turns a transport error into one that is safe to return. net/http
// wraps every failure in *url.Error, whose text is the full request URL (the
// credential); that layer is dropped. If the rest still mentions a secret
// (a custom RoundTripper might), the chain is cut to the context error
// callers branch on.
func (r redactor) scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	msg := err.Error()
	if clean := r.redact(msg); clean != msg {
		var cause error
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			cause = context.DeadlineExceeded
		case errors.Is(err, context.Canceled):
			cause = context.Canceled
		}
		return &scrubbedError{msg: clean, cause: cause}
	}
	return err
}

type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// The result is capped at an hour so a bogus header cannot park a job.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 3600 {
			n = 3600
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}
