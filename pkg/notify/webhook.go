package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/backupflow/backupflow/pkg/secret"
)

// Limits for the generic webhook. No platform sets them; they keep one
// notice from turning into a log dump.
const (
	webhookTitleMax  = 1024
	webhookTextMax   = 16 << 10
	webhookFieldMax  = 2048
	webhookFieldsMax = 50
)

type webhookSender struct {
	ch     *channel
	url    secret.String
	host   string
	signer secret.String
}

func parseWebhook(rest string, o *Options) (Sender, error) {
	u, err := parseHTTPURL("webhook", rest)
	if err != nil {
		return nil, err
	}
	// Only secret= is ours; every other query parameter belongs to the
	// receiver and is kept in order and encoding.
	var kept []string
	var sec string
	hasSecret := false
	for _, part := range strings.Split(u.RawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if name != "secret" {
			if part != "" {
				kept = append(kept, part)
			}
			continue
		}
		if hasSecret {
			return nil, errors.New("notify: webhook: option secret given twice")
		}
		hasSecret = true
		if sec, err = url.PathUnescape(value); err != nil || sec == "" {
			return nil, errors.New("notify: webhook: secret is empty or malformed")
		}
	}
	u.RawQuery = strings.Join(kept, "&")
	return &webhookSender{
		ch:     newChannel("webhook", o, webhookSecrets(u, sec)...),
		url:    secret.String(u.String()),
		host:   u.Scheme + "://" + u.Host,
		signer: secret.String(sec),
	}, nil
}

// webhookSecrets lists what to redact for a generic URL, whose layout we do
// not know: the URL, its path and query, the password, long path segments
// and query values (tokens are long; short ones like "v2" or "1" would
// redact innocent text).
func webhookSecrets(u *url.URL, sec string) []string {
	out := []string{sec, u.String(), u.RawQuery, strings.Trim(u.EscapedPath(), "/")}
	if p, ok := u.User.Password(); ok {
		out = append(out, p)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 12 {
			out = append(out, seg)
		}
	}
	for _, part := range strings.Split(u.RawQuery, "&") {
		_, v, _ := strings.Cut(part, "=")
		if len(v) >= 6 {
			out = append(out, v)
			if d, err := url.QueryUnescape(v); err == nil {
				out = append(out, d)
			}
		}
	}
	return out
}

func (s *webhookSender) GoString() string { return s.String() }

func (s *webhookSender) String() string {
	if s.signer.IsSet() {
		return "webhook:" + s.host + "/" + redacted + "?secret=" + redacted
	}
	return "webhook:" + s.host + "/" + redacted
}

// WebhookPayload is the JSON body the generic webhook posts. Timestamp is
// the send time in Unix seconds; it is inside the signed body, so a receiver
// can enforce a replay window.
type WebhookPayload struct {
	Level     string  `json:"level"`
	Title     string  `json:"title"`
	Text      string  `json:"text"`
	Fields    []Field `json:"fields"`
	Job       string  `json:"job"`
	Mention   string  `json:"mention,omitempty"`
	Timestamp int64   `json:"timestamp"`
}

// Header names the generic webhook sets when it has a secret.
const (
	// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(secret, body)),
	// the GitHub layout (facts/chatops.md §7).
	SignatureHeader = "X-Hub-Signature-256"
	// TimestampHeader repeats the body's timestamp for receivers that want
	// to reject stale posts before reading the body.
	TimestampHeader = "X-Backupflow-Timestamp"
)

// MarshalJSON names fields in lowercase, like the rest of the payload.
func (f Field) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}{f.Name, f.Value})
}

// Send posts the generic payload; any 2xx status is success.
func (s *webhookSender) Send(ctx context.Context, m Message) error {
	m = m.clean()
	now := s.ch.now()
	p := WebhookPayload{
		Level:     m.Level.String(),
		Title:     truncBytes(m.title(), webhookTitleMax),
		Text:      truncBytes(m.Text, webhookTextMax),
		Fields:    []Field{},
		Job:       m.JobID,
		Mention:   m.Mention,
		Timestamp: now.Unix(),
	}
	for i, f := range m.Fields {
		if i == webhookFieldsMax {
			break
		}
		p.Fields = append(p.Fields, Field{Name: truncBytes(f.Name, webhookFieldMax), Value: truncBytes(f.Value, webhookFieldMax)})
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("notify: webhook: encode message: %w", err)
	}
	var h http.Header
	if s.signer.IsSet() {
		h = http.Header{}
		h.Set(TimestampHeader, strconv.FormatInt(p.Timestamp, 10))
		h.Set(SignatureHeader, WebhookSignature(s.signer.Reveal(), body))
	}
	r, err := s.ch.post(ctx, s.url.Reveal(), body, h)
	if err != nil {
		return err
	}
	if !statusOK(r.status) {
		return s.ch.httpError(r, "", firstLine(string(r.body)))
	}
	return nil
}

// WebhookSignature is the SignatureHeader value for body: receivers compute
// it the same way and compare with hmac.Equal.
func WebhookSignature(key string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
