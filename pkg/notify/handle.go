package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/backupflow/backupflow/pkg/secret"
)

// A reply handle is the URL a chat platform hands out with a command so the
// bot can answer in that conversation: Slack's response_url, DingTalk's
// sessionWebhook, a WeCom smart robot's response_url. Each is a bearer
// credential valid for a short while (facts/chatops.md §9.9).

// handleHosts is where each platform's handles point. A handle anywhere
// else is refused: the URL came in a chat message, and a DingTalk body is
// not covered by its signature, so posting a job's result wherever a body
// says would let a forged message aim our function at any address.
var handleHosts = map[string]struct{ host, path string }{
	"slack":    {"hooks.slack.com", "/commands/"},
	"dingtalk": {"oapi.dingtalk.com", "/robot/sendBySession"},
	"wecom":    {"qyapi.weixin.qq.com", "/cgi-bin/aibot/response"},
}

// ErrHandle marks a reply handle that is not the platform's.
var ErrHandle = errors.New("notify: reply handle is not one the platform issues")

// ReplyHandle builds a sender that posts to the conversation behind a reply
// handle of platform ("slack", "dingtalk", "wecom"). The handle must be an
// https URL on the platform's own host and path; Options.Endpoints (keyed
// by platform) moves it onto an emulator, keeping its path and query. The
// sender's String and errors never show the handle.
func ReplyHandle(platform, handle string, opts *Options) (Sender, error) {
	o := opts.withDefaults()
	want, ok := handleHosts[platform]
	if !ok {
		return nil, fmt.Errorf("%w: %s hands out none", ErrHandle, platform)
	}
	u, err := parseHTTPURL(platform, handle)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, want.host) || !strings.HasPrefix(u.Path, want.path) || u.User != nil {
		return nil, fmt.Errorf("%w: want https://%s%s…", ErrHandle, want.host, want.path)
	}
	secrets := append(webhookSecrets(u, ""), handle)
	if u, err = rebase(platform, u, &o); err != nil {
		return nil, err
	}
	return &handleSender{platform: platform, ch: newChannel(platform, &o, append(secrets, u.String())...),
		url: secret.String(u.String())}, nil
}

type handleSender struct {
	platform string
	ch       *channel
	url      secret.String
}

func (s *handleSender) String() string   { return s.platform + ":reply-handle:" + redacted }
func (s *handleSender) GoString() string { return s.String() }

// slackHandleMessage is a Block Kit message posted to a response_url, shown
// to the whole channel as a new message (not replacing the command's
// ephemeral answer).
type slackHandleMessage struct {
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	slackMessage
}

func (s *handleSender) Send(ctx context.Context, m Message) error {
	m = m.clean()
	var v any
	switch s.platform {
	case "slack":
		v = slackHandleMessage{ResponseType: "in_channel", slackMessage: slackPayload(m)}
	case "dingtalk":
		msg := dingtalkMessage{MsgType: "markdown"}
		msg.Markdown.Title = truncBytes(m.Level.emoji()+" "+m.title(), dingtalkTitleMax)
		msg.Markdown.Text = dingtalkStyle.render(m, dingtalkMax)
		if m.Mention != "" {
			msg.At.AtUserIDs = []string{m.Mention}
		}
		v = msg
	default: // wecom: the robot's response_url takes markdown
		msg := wecomMessage{MsgType: "markdown"}
		msg.Markdown.Content = wecomStyle.render(m, wecomMax)
		v = msg
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("notify: %s: encode message: %w", s.platform, err)
	}
	r, err := s.ch.post(ctx, s.url.Reveal(), body, nil)
	if err != nil {
		return err
	}
	if s.platform != "slack" {
		return s.ch.checkErrcode(r)
	}
	// A response_url answers 200 with "ok" or {"ok":true}; a used-up or
	// expired one answers 404 with a short code.
	text := strings.TrimSpace(string(r.body))
	var ok struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	switch {
	case r.status != http.StatusOK:
		return s.ch.httpError(r, firstLine(text), "")
	case text == "ok", json.Unmarshal(r.body, &ok) == nil && ok.OK != nil && *ok.OK:
		return nil
	case ok.Error != "":
		return s.ch.httpError(r, ok.Error, "")
	}
	return s.ch.httpError(r, firstLine(text), "")
}
