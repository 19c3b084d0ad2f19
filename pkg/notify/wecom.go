package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/backupflow/backupflow/pkg/secret"
)

// wecomMax is the markdown.content limit in bytes; beyond it WeCom answers
// errcode 40058 (facts/chatops.md §3.1).
const wecomMax = 4096

const wecomBase = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

type wecomSender struct {
	ch  *channel
	url secret.String
}

func parseWeCom(rest string, o *Options) (Sender, error) {
	var u *url.URL
	var key string
	if isURL(rest) {
		var err error
		if u, err = parseHTTPURL("wecom", rest); err != nil {
			return nil, err
		}
		opts, err := options("wecom", u.RawQuery, "key")
		if err != nil {
			return nil, err
		}
		key = opts["key"]
	} else {
		key = rest
		u, _ = url.Parse(wecomBase)
	}
	if !validToken(key) {
		return nil, errors.New("notify: wecom: key is missing or malformed")
	}
	u.RawQuery = url.Values{"key": {key}}.Encode()
	u, err := rebase("wecom", u, o)
	if err != nil {
		return nil, err
	}
	return &wecomSender{ch: newChannel("wecom", o, key), url: secret.String(u.String())}, nil
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

func (s *wecomSender) String() string   { return "wecom:" + redacted }
func (s *wecomSender) GoString() string { return s.String() }

var wecomStyle = mdStyle{
	heading: func(m Message) string {
		color := "comment"
		switch m.Level {
		case Success:
			color = "info"
		case Failure:
			color = "warning"
		}
		return `## <font color="` + color + `">` + m.Level.emoji() + " " + m.title() + "</font>"
	},
	field:   func(name, value string) string { return "> **" + name + "**: " + value },
	mention: func(id string) string { return "<@" + id + ">" },
}

type wecomMessage struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

// Send posts a markdown message. WeCom answers HTTP 200 even on failure, so
// the errcode decides.
func (s *wecomSender) Send(ctx context.Context, m Message) error {
	msg := wecomMessage{MsgType: "markdown"}
	msg.Markdown.Content = wecomStyle.render(m.clean(), wecomMax)
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("notify: wecom: encode message: %w", err)
	}
	r, err := s.ch.post(ctx, s.url.Reveal(), body, nil)
	if err != nil {
		return err
	}
	return s.ch.checkErrcode(r)
}

// checkErrcode judges the {"errcode":0,"errmsg":"ok"} answer WeCom and
// DingTalk share.
func (c *channel) checkErrcode(r *response) error {
	if !statusOK(r.status) {
		return c.httpError(r, "", string(r.body))
	}
	code, msg, err := decodeErrcode(r.body)
	if err != nil {
		return c.httpError(r, "", err.Error())
	}
	if code != 0 {
		return c.httpError(r, strconv.FormatInt(code, 10), msg)
	}
	return nil
}

// decodeErrcode reads {"errcode":N,"errmsg":"..."}. A body without errcode
// is not an acceptance.
func decodeErrcode(body []byte) (code int64, msg string, err error) {
	var v struct {
		Errcode *int64 `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Errcode == nil {
		return 0, "", errors.New("unexpected response body")
	}
	return *v.Errcode, v.Errmsg, nil
}
