package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/backupflow/backupflow/pkg/secret"
)

// Slack Block Kit limits (facts/chatops.md §2.4).
const (
	slackHeaderMax  = 150
	slackTextMax    = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
	slackContextMax = 2000
)

type slackSender struct {
	ch   *channel
	url  secret.String
	host string
}

func parseSlack(rest string, o *Options) (Sender, error) {
	u, err := parseHTTPURL("slack", rest)
	if err != nil {
		return nil, err
	}
	if strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("notify: slack: webhook URL has no path")
	}
	host := u.Scheme + "://" + u.Host
	secrets := []string{u.String(), strings.Trim(u.EscapedPath(), "/"), u.RawQuery}
	if u, err = rebase("slack", u, o); err != nil {
		return nil, err
	}
	return &slackSender{ch: newChannel("slack", o, append(secrets, u.String())...), url: secret.String(u.String()), host: host}, nil
}

func (s *slackSender) String() string   { return "slack:" + s.host + "/" + redacted }
func (s *slackSender) GoString() string { return s.String() }

// Send posts to the incoming webhook. Slack answers 200 "ok"; anything else
// carries a short code (invalid_payload, no_service, ...) in the body.
func (s *slackSender) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(slackPayload(m.clean()))
	if err != nil {
		return fmt.Errorf("notify: slack: encode message: %w", err)
	}
	r, err := s.ch.post(ctx, s.url.Reveal(), body, nil)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(string(r.body))
	if r.status == http.StatusOK && text == "ok" {
		return nil
	}
	return s.ch.httpError(r, firstLine(text), "")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackPayload renders m as a header, a section (mention, text, fields) and
// a context line with the job. The top-level text is the notification
// fallback shown on phones and in search.
func slackPayload(m Message) slackMessage {
	title := m.Level.emoji() + " " + m.title()
	msg := slackMessage{
		Text: slackEscTrunc(title+jobSuffix(m.JobID), slackTextMax),
		Blocks: []slackBlock{{
			Type: "header",
			// plain_text is shown literally, so it is not escaped.
			Text: &slackText{Type: "plain_text", Text: truncChars(title, slackHeaderMax)},
		}},
	}
	section := slackBlock{Type: "section"}
	if text := slackSectionText(m); text != "" {
		section.Text = &slackText{Type: "mrkdwn", Text: text}
	}
	section.Fields = slackFields(m.Fields)
	if section.Text != nil || len(section.Fields) > 0 {
		msg.Blocks = append(msg.Blocks, section)
	}
	ctxText := m.Level.String()
	if m.JobID != "" {
		ctxText = "job " + slackEscTrunc(m.JobID, 200) + " · " + ctxText
	}
	msg.Blocks = append(msg.Blocks, slackBlock{
		Type:     "context",
		Elements: []slackText{{Type: "mrkdwn", Text: truncChars(ctxText, slackContextMax)}},
	})
	return msg
}

// slackSectionText is the mention followed by the escaped text. The mention
// is placed first so truncation can never cut it.
func slackSectionText(m Message) string {
	prefix := ""
	if m.Mention != "" {
		prefix = "<@" + m.Mention + ">"
		if m.Text != "" {
			prefix += " "
		}
	}
	return prefix + slackEscTrunc(m.Text, slackTextMax-units(prefix))
}

// slackFields renders at most ten fields; when there are more, the tenth says
// how many were left out.
func slackFields(fields []Field) []slackText {
	var out []slackText
	for i, f := range fields {
		if i == slackFieldsMax-1 && len(fields) > slackFieldsMax {
			out = append(out, slackText{Type: "mrkdwn", Text: fmt.Sprintf("_and %d more_", len(fields)-i)})
			break
		}
		name := ""
		if f.Name != "" {
			name = "*" + slackEscTrunc(f.Name, 200) + "*\n"
		}
		out = append(out, slackText{Type: "mrkdwn", Text: name + slackEscTrunc(f.Value, slackFieldMax-units(name))})
	}
	return out
}

// jobSuffix is how every renderer shows the job id in a one-line title.
func jobSuffix(job string) string {
	if job == "" {
		return ""
	}
	return " (job " + job + ")"
}
