package chatopstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sample is a recorded HTTP request, the shape of events/chatops/*.json.
// Path includes the query string.
type Sample struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// NewSample records r (its body is read and put back).
func NewSample(r *http.Request) Sample {
	s := Sample{Method: r.Method, Path: r.URL.RequestURI(), Headers: map[string]string{}, Body: string(readBody(r))}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.Headers[k] = r.Header.Get(k)
	}
	return s
}

// ReadSample loads a sample file.
func ReadSample(file string) (Sample, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Sample{}, fmt.Errorf("chatopstest: read sample: %w", err)
	}
	var s Sample
	if err := json.Unmarshal(b, &s); err != nil {
		return Sample{}, fmt.Errorf("chatopstest: read sample %s: %w", file, err)
	}
	return s, nil
}

// Request rebuilds the HTTP request. Headers go through Header.Set, which
// canonicalises names as a server does, so lower-case names work.
func (s Sample) Request() *http.Request {
	r := httptest.NewRequest(s.Method, s.Path, strings.NewReader(s.Body))
	for k, v := range s.Headers {
		r.Header.Set(k, v)
	}
	return r
}

// Time is the moment the sample was signed, read from whichever timestamp
// the platform carries, so a test can pin the clock to it.
func (s Sample) Time() (time.Time, error) {
	h := http.Header{}
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	for _, k := range []string{"X-Slack-Request-Timestamp", "X-Lark-Request-Timestamp", "X-Backupflow-Timestamp"} {
		if v := h.Get(k); v != "" {
			return parseUnix(v, false)
		}
	}
	if v := h.Get("Timestamp"); v != "" {
		return parseUnix(v, true) // DingTalk, milliseconds
	}
	if u, err := url.Parse(s.Path); err == nil {
		if v := u.Query().Get("timestamp"); v != "" {
			return parseUnix(v, false) // WeCom
		}
	}
	return time.Time{}, fmt.Errorf("chatopstest: sample %s %s carries no timestamp", s.Method, s.Path)
}

func parseUnix(v string, ms bool) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("chatopstest: timestamp %q: %w", v, err)
	}
	if ms {
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Unix(n, 0).UTC(), nil
}
