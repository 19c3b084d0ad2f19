package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type slackWireText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackWire struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type     string          `json:"type"`
		Text     *slackWireText  `json:"text"`
		Fields   []slackWireText `json:"fields"`
		Elements []slackWireText `json:"elements"`
	} `json:"blocks"`
}

// checkSlack validates a webhook post against Block Kit's documented limits
// and the escaping rule, as Slack would before accepting it.
func checkSlack(t *testing.T, r request) slackWire {
	t.Helper()
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("slack got %s %q; want a JSON POST", r.Method, r.Header.Get("Content-Type"))
	}
	if r.Path != "/services/T000/B000/XXXXSECRET" {
		t.Errorf("slack path = %q; want the webhook path kept", r.Path)
	}
	var m slackWire
	decodeJSON(t, r.Body, &m)
	if m.Text == "" || len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		t.Errorf("slack message needs fallback text and 1..50 blocks: %+v", m)
		return m
	}
	mrkdwn := []string{m.Text}
	for i, b := range m.Blocks {
		switch b.Type {
		case "header":
			if i != 0 || b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || units(b.Text.Text) > 150 {
				t.Errorf("bad header block: %+v", b)
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				t.Errorf("empty section block")
			}
			if b.Text != nil {
				if units(b.Text.Text) > 3000 {
					t.Errorf("section text is %d units; limit 3000", units(b.Text.Text))
				}
				mrkdwn = append(mrkdwn, b.Text.Text)
			}
			if len(b.Fields) > 10 {
				t.Errorf("section has %d fields; limit 10", len(b.Fields))
			}
			for _, f := range b.Fields {
				if units(f.Text) > 2000 {
					t.Errorf("field is %d units; limit 2000", units(f.Text))
				}
				mrkdwn = append(mrkdwn, f.Text)
			}
		case "context":
			for _, e := range b.Elements {
				mrkdwn = append(mrkdwn, e.Text)
			}
		default:
			t.Errorf("unexpected block type %q", b.Type)
		}
	}
	for _, s := range mrkdwn {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 in %q", s)
		}
		// The only markup allowed through is our own mention.
		rest := strings.ReplaceAll(s, "<@U123>", "")
		if strings.ContainsAny(rest, "<>") {
			t.Errorf("unescaped < or > in mrkdwn %q", s)
		}
		rest = strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(rest)
		if strings.Contains(rest, "&") {
			t.Errorf("unescaped & in mrkdwn %q", s)
		}
	}
	return m
}

const slackSpec = "slack:https://hooks.slack.com/services/T000/B000/XXXXSECRET"

func TestSlack_Send(t *testing.T) {
	var got slackWire
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		got = checkSlack(t, r)
		return http.StatusOK, "ok"
	})
	s := mustParse(t, slackSpec, opts(srv))
	err := s.Send(context.Background(), Message{
		Level: Failure, Title: "Backup failed", Text: "restore <script> & friends",
		Fields:  []Field{{"Instance", "cdb-1"}, {"Error", "a > b"}, {"", "unnamed"}},
		JobID:   "42",
		Mention: "U123",
	})
	if err != nil {
		t.Fatalf("Send = %v; want nil", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Fatalf("slack got %d requests; want 1", n)
	}
	if h := got.Blocks[0].Text.Text; h != "❌ Backup failed" {
		t.Errorf("header = %q", h)
	}
	if s := got.Blocks[1].Text.Text; s != "<@U123> restore &lt;script&gt; &amp; friends" {
		t.Errorf("section text = %q", s)
	}
	if f := got.Blocks[1].Fields[1].Text; f != "*Error*\na &gt; b" {
		t.Errorf("field = %q", f)
	}
	if f := got.Blocks[1].Fields[2].Text; f != "unnamed" {
		t.Errorf("field without a name = %q", f)
	}
	if c := got.Blocks[2].Elements[0].Text; !strings.Contains(c, "job 42") {
		t.Errorf("context %q does not show the job", c)
	}
	if !strings.Contains(got.Text, "Backup failed (job 42)") {
		t.Errorf("fallback text = %q", got.Text)
	}
}

func TestSlack_Limits(t *testing.T) {
	var got slackWire
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		got = checkSlack(t, r)
		return http.StatusOK, "ok"
	})
	var fields []Field
	for i := range 15 {
		fields = append(fields, Field{Name: "f", Value: strings.Repeat("é&", 1500) + string(rune('a'+i))})
	}
	m := Message{
		Level:   Success,
		Title:   strings.Repeat("备份", 100),
		Text:    strings.Repeat("数据😀&", 2000), // every piece multi-unit after escaping
		Fields:  fields,
		Mention: "U123",
	}
	if err := mustParse(t, slackSpec, opts(srv)).Send(context.Background(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	sec := got.Blocks[1]
	if !strings.HasPrefix(sec.Text.Text, "<@U123> ") || !strings.HasSuffix(sec.Text.Text, ellipsis) {
		t.Errorf("long section text should keep the mention and end in an ellipsis: ...%q", sec.Text.Text[len(sec.Text.Text)-20:])
	}
	if !strings.HasSuffix(got.Blocks[0].Text.Text, ellipsis) {
		t.Errorf("long header not marked as cut")
	}
	if n := len(sec.Fields); n != 10 || sec.Fields[9].Text != "_and 6 more_" {
		t.Errorf("fields: got %d, last %q; want 10 ending in \"_and 6 more_\"", n, sec.Fields[n-1].Text)
	}
}

func TestSlack_Failures(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		wantCode   string
		wantWait   time.Duration
		retryable  bool
	}{
		{"bad payload", http.StatusBadRequest, "invalid_payload", "", "invalid_payload", 0, false},
		{"webhook gone", http.StatusNotFound, "no_service\n", "", "no_service", 0, false},
		{"rate limited", http.StatusTooManyRequests, "rate_limited", "30", "rate_limited", 30 * time.Second, true},
		{"rate limited until a date", http.StatusTooManyRequests, "", fixedNow.Add(2 * time.Minute).Format(http.TimeFormat), "", 2 * time.Minute, true},
		{"server fault", http.StatusInternalServerError, "", "", "", 0, true},
		{"200 without ok", http.StatusOK, "channel_is_archived", "", "channel_is_archived", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPlatform(t, func(t *testing.T, r request) (int, string) { return tt.status, tt.body })
			if tt.retryAfter != "" {
				srv.header = http.Header{"Retry-After": {tt.retryAfter}}
			}
			err := mustParse(t, slackSpec, opts(srv)).Send(context.Background(), Message{Title: "t"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Send = %v; want *Error", err)
			}
			if e.StatusCode != tt.status || e.Code != tt.wantCode || e.RetryAfter != tt.wantWait || e.Retryable() != tt.retryable {
				t.Errorf("Send error = %+v (retryable %v); want status %d code %q wait %v retryable %v",
					e, e.Retryable(), tt.status, tt.wantCode, tt.wantWait, tt.retryable)
			}
			if wait, ok := RetryAfter(err); ok != tt.retryable || wait != tt.wantWait {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", wait, ok, tt.wantWait, tt.retryable)
			}
		})
	}
}
