package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/backupflow/backupflow/pkg/secret"
)

// DingTalk publishes no byte limit for markdown; facts/chatops.md §9.12 says
// keep it small, so it gets WeCom's budget. The title only shows in the
// conversation list.
const (
	dingtalkMax      = 4096
	dingtalkTitleMax = 100
)

const dingtalkBase = "https://oapi.dingtalk.com/robot/send"

type dingtalkSender struct {
	ch     *channel
	url    secret.String // with access_token, without timestamp and sign
	signer secret.String // the SEC... signing secret, or ""

}

func parseDingTalk(rest string, o *Options) (Sender, error) {
	var u *url.URL
	var token, query string
	if isURL(rest) {
		var err error
		if u, err = parseHTTPURL("dingtalk", rest); err != nil {
			return nil, err
		}
		query = u.RawQuery
	} else {
		token, query, _ = strings.Cut(rest, "?")
		u, _ = url.Parse(dingtalkBase)
	}
	opts, err := options("dingtalk", query, "access_token", "secret")
	if err != nil {
		return nil, err
	}
	if t, ok := opts["access_token"]; ok {
		if token != "" {
			return nil, errors.New("notify: dingtalk: access token given twice")
		}
		token = t
	}
	if !validToken(token) {
		return nil, errors.New("notify: dingtalk: access token is missing or malformed")
	}
	sec, hasSecret := opts["secret"]
	// 加签 secrets are issued as "SEC" + hex; anything else is most likely
	// the token pasted twice.
	if hasSecret && (!strings.HasPrefix(sec, "SEC") || !validToken(sec)) {
		return nil, errors.New("notify: dingtalk: secret must be the SEC... value from the robot's security settings")
	}
	u.RawQuery = url.Values{"access_token": {token}}.Encode()
	if u, err = rebase("dingtalk", u, o); err != nil {
		return nil, err
	}
	return &dingtalkSender{ch: newChannel("dingtalk", o, token, sec), url: secret.String(u.String()), signer: secret.String(sec)}, nil
}

func (s *dingtalkSender) GoString() string { return s.String() }

func (s *dingtalkSender) String() string {
	if s.signer.IsSet() {
		return "dingtalk:" + redacted + "?secret=" + redacted
	}
	return "dingtalk:" + redacted
}

var dingtalkStyle = mdStyle{
	heading: func(m Message) string { return "### " + m.Level.emoji() + " " + m.title() },
	field:   func(name, value string) string { return "- **" + name + "**: " + value },
	// The at block alone does not notify in markdown: the @id must also be
	// in the text.
	mention: func(id string) string { return "@" + id },
}

type dingtalkMessage struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	At struct {
		AtUserIDs []string `json:"atUserIds,omitempty"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

// Send posts a markdown message, signed when the robot has a secret.
func (s *dingtalkSender) Send(ctx context.Context, m Message) error {
	m = m.clean()
	msg := dingtalkMessage{MsgType: "markdown"}
	msg.Markdown.Title = truncBytes(m.Level.emoji()+" "+m.title(), dingtalkTitleMax)
	msg.Markdown.Text = dingtalkStyle.render(m, dingtalkMax)
	if m.Mention != "" {
		msg.At.AtUserIDs = []string{m.Mention}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("notify: dingtalk: encode message: %w", err)
	}
	u := s.url.Reveal()
	if s.signer.IsSet() {
		ts := strconv.FormatInt(s.ch.now().UnixMilli(), 10)
		u += "&timestamp=" + ts + "&sign=" + url.QueryEscape(dingtalkSign(s.signer.Reveal(), ts))
	}
	r, err := s.ch.post(ctx, u, body, nil)
	if err != nil {
		return err
	}
	return s.ch.checkErrcode(r)
}

// dingtalkSign is base64(HMAC-SHA256(key = secret, msg = ts + "\n" + secret)),
// facts/chatops.md §4.2. The caller URL-encodes it as a query value: its
// '+', '/' and '=' must not reach DingTalk raw.
func dingtalkSign(sec, ts string) string {
	mac := hmac.New(sha256.New, []byte(sec))
	mac.Write([]byte(ts + "\n" + sec))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
