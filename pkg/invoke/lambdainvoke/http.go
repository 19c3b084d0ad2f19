package lambdainvoke

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/invoke"
)

// MaxBodyBytes is the largest request body HTTP passes to the handler (the
// Lambda synchronous payload limit); larger bodies get 413 without calling it.
const MaxBodyBytes = 6 << 20

// httpEvent is the union of the fields HTTP reads from function URL and
// HTTP API payload 2.0 events and REST API payload 1.0 events.
type httpEvent struct {
	Version string `json:"version"`

	// Payload 2.0 (HTTP API, function URL).
	RawPath        string   `json:"rawPath"`
	RawQueryString string   `json:"rawQueryString"`
	Cookies        []string `json:"cookies"`

	// Payload 1.0 (REST API).
	HTTPMethod            string              `json:"httpMethod"`
	Path                  string              `json:"path"`
	QueryStringParameters map[string]string   `json:"queryStringParameters"`
	MultiValueQueryString map[string][]string `json:"multiValueQueryStringParameters"`
	MultiValueHeaders     map[string][]string `json:"multiValueHeaders"`

	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	RequestContext  struct {
		DomainName string `json:"domainName"`
		HTTP       struct {
			Method   string `json:"method"`
			Path     string `json:"path"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
		Identity struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
	} `json:"requestContext"`
}

func (e *httpEvent) v2() bool { return e.Version == "2.0" }

// httpResponse is the response event for both payload versions; HTTP fills
// the fields of the version it was called with.
type httpResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders,omitempty"`
	Cookies           []string            `json:"cookies,omitempty"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// HTTP adapts h to Lambda HTTP events: function URLs and HTTP APIs (payload
// 2.0) and REST APIs (payload 1.0). The body is base64-decoded when the event
// says so, headers (lower-case on the wire) are canonicalised, the raw query
// is rebuilt, and the response is encoded in the event's version, base64 for
// non-text bodies. A payload that is not an HTTP event is an error; a bad
// request inside a valid event gets a 4xx response without calling h.
func HTTP(h http.Handler) invoke.Handler {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev httpEvent
		if err := json.Unmarshal(payload, &ev); err != nil || !ev.v2() && ev.HTTPMethod == "" {
			// Name what arrived (a timer, a queue batch …) and refuse it.
			if _, rerr := event.DecodeFor(payload, event.HTTPRequest); rerr != nil {
				return nil, fmt.Errorf("lambdainvoke: %w", rerr)
			}
			if err != nil {
				return nil, fmt.Errorf("lambdainvoke: decode http event: %w", err)
			}
			return nil, errors.New("lambdainvoke: payload is not an http event (no version 2.0, no httpMethod)")
		}
		req, status := newRequest(ctx, &ev)
		if status != 0 {
			return encodeResponse(&ev, status, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte(http.StatusText(status)+"\n"))
		}
		w := &responseWriter{header: http.Header{}}
		h.ServeHTTP(w, req)
		if w.status == 0 {
			w.status = http.StatusOK
		}
		if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
			w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
		}
		return encodeResponse(&ev, w.status, w.header, w.body.Bytes())
	}
}

// newRequest builds the request, or returns the status of why it cannot.
func newRequest(ctx context.Context, ev *httpEvent) (*http.Request, int) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(ev.Body)) > MaxBodyBytes+3 {
			return nil, http.StatusRequestEntityTooLarge
		}
		dec, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, http.StatusBadRequest
		}
		body = dec
	}
	if len(body) > MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge
	}

	u := &url.URL{}
	method, sourceIP := ev.HTTPMethod, ev.RequestContext.Identity.SourceIP
	header := http.Header{}
	if ev.v2() {
		method, sourceIP = ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.SourceIP
		raw := ev.RawPath
		if raw == "" {
			raw = ev.RequestContext.HTTP.Path
		}
		u.Path = raw
		if p, err := url.PathUnescape(raw); err == nil && p != raw {
			u.Path, u.RawPath = p, raw
		}
		u.RawQuery = ev.RawQueryString
		for k, v := range ev.Headers {
			header[http.CanonicalHeaderKey(k)] = []string{v}
		}
		if len(ev.Cookies) > 0 {
			header.Set("Cookie", strings.Join(ev.Cookies, "; "))
		}
	} else {
		u.Path = ev.Path
		q := url.Values{}
		if len(ev.MultiValueQueryString) > 0 {
			for k, vs := range ev.MultiValueQueryString {
				q[k] = append(q[k], vs...)
			}
		} else {
			for k, v := range ev.QueryStringParameters {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
		if len(ev.MultiValueHeaders) > 0 {
			for k, vs := range ev.MultiValueHeaders {
				header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
			}
		} else {
			for k, v := range ev.Headers {
				header[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	host := header.Get("Host")
	if host == "" {
		host = ev.RequestContext.DomainName
	}
	// NewRequest validates the method; the URL is set afterwards so that no
	// reparsing can change the path the platform sent.
	req, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil || method == "" {
		return nil, http.StatusBadRequest
	}
	req.URL = u // path and query only, as on a server-side request
	req.RequestURI = u.RequestURI()
	req.Header = header
	req.Host = host
	req.ContentLength = int64(len(body))
	req.RemoteAddr = sourceIP
	return req, 0
}

func encodeResponse(ev *httpEvent, status int, header http.Header, body []byte) ([]byte, error) {
	resp := httpResponse{StatusCode: status}
	if isText(header.Get("Content-Type")) && utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if ev.v2() {
		for _, k := range keys {
			vs := header[k]
			if k == "Set-Cookie" {
				// Payload 2.0 carries cookies apart; a joined Set-Cookie header would break them.
				resp.Cookies = append(resp.Cookies, vs...)
				continue
			}
			if resp.Headers == nil {
				resp.Headers = map[string]string{}
			}
			resp.Headers[k] = strings.Join(vs, ",")
		}
	} else if len(keys) > 0 {
		resp.MultiValueHeaders = make(map[string][]string, len(keys))
		for _, k := range keys {
			resp.MultiValueHeaders[k] = header[k]
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("lambdainvoke: encode http response: %w", err)
	}
	return b, nil
}

// isText reports whether a content type can travel as a plain JSON string.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// responseWriter buffers the handler's response for the response event.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
