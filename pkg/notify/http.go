package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// maxResponse bounds how much of a platform's answer is read: the answers
// are a few dozen bytes, anything larger is not one of them.
const maxResponse = 64 << 10

// channel is what every HTTP sender shares: how to post, how to tell time,
// and which strings must never leave the package.
type channel struct {
	kind    string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	secrets redactor
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// post sends one JSON body. The returned error is already an *Error.
func (c *channel) post(ctx context.Context, url string, body []byte, header http.Header) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Channel: c.kind, Err: c.secrets.scrub(err)}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "backupflow-notify")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, &Error{Channel: c.kind, Err: c.secrets.scrub(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Channel: c.kind, StatusCode: resp.StatusCode, Err: c.secrets.scrub(err)}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// httpError describes a response the platform did not accept.
func (c *channel) httpError(r *response, code, msg string) *Error {
	e := &Error{
		Channel:    c.kind,
		StatusCode: r.status,
		Code:       oneLine(c.secrets.redact(code), 100),
		Message:    oneLine(c.secrets.redact(msg), 300),
	}
	if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(r.header.Get("Retry-After"), c.now())
	}
	return e
}

// statusOK reports a 2xx status.
func statusOK(status int) bool { return status >= 200 && status < 300 }

// noRedirect stops the client at the first redirect: following it would
// re-send the credential-bearing request to wherever the answer points.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
