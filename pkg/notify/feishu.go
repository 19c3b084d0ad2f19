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

// Feishu's custom bot takes request bodies up to 20 KB (facts/chatops.md
// §5.2); 20 000 bytes stays under either reading of "KB".
const (
	feishuBodyMax  = 20000
	feishuTitleMax = 100
)

var feishuBases = map[string]string{
	"feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/",
	"lark":   "https://open.larksuite.com/open-apis/bot/v2/hook/",
}

type feishuSender struct {
	ch     *channel
	url    secret.String
	signer secret.String
}

func parseFeishu(kind, rest string, o *Options) (Sender, error) {
	var u *url.URL
	var token, query string
	if isURL(rest) {
		var err error
		if u, err = parseHTTPURL(kind, rest); err != nil {
			return nil, err
		}
		dir, last, ok := cutLast(u.Path, "/")
		if !ok || !strings.HasSuffix(dir, "/hook") {
			return nil, fmt.Errorf("notify: %s: URL is not a bot hook URL (…/bot/v2/hook/<token>)", kind)
		}
		token, query = last, u.RawQuery
	} else {
		token, query, _ = strings.Cut(rest, "?")
		u, _ = url.Parse(feishuBases[kind])
		u.Path += token
	}
	if !validToken(token) {
		return nil, fmt.Errorf("notify: %s: hook token is missing or malformed", kind)
	}
	opts, err := options(kind, query, "secret")
	if err != nil {
		return nil, err
	}
	sec, has := opts["secret"]
	if has && sec == "" {
		return nil, fmt.Errorf("notify: %s: secret is empty", kind)
	}
	u.RawQuery = ""
	if u, err = rebase(kind, u, o); err != nil {
		return nil, err
	}
	return &feishuSender{ch: newChannel(kind, o, token, sec), url: secret.String(u.String()), signer: secret.String(sec)}, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (s *feishuSender) GoString() string { return s.String() }

func (s *feishuSender) String() string {
	if s.signer.IsSet() {
		return s.ch.kind + ":" + redacted + "?secret=" + redacted
	}
	return s.ch.kind + ":" + redacted
}

var feishuStyle = mdStyle{
	field: func(name, value string) string { return "**" + name + "**: " + value },
	// Card markdown mentions by open_id.
	mention: func(id string) string { return "<at id=" + id + "></at>" },
}

type feishuText struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

type feishuMessage struct {
	Timestamp string `json:"timestamp,omitempty"`
	Sign      string `json:"sign,omitempty"`
	MsgType   string `json:"msg_type"`
	Card      struct {
		Header struct {
			Title    feishuText `json:"title"`
			Template string     `json:"template"`
		} `json:"header"`
		Elements []feishuText `json:"elements"`
	} `json:"card"`
}

// Send posts an interactive card, signed when the bot has a secret.
func (s *feishuSender) Send(ctx context.Context, m Message) error {
	body, err := s.encode(m.clean())
	if err != nil {
		return fmt.Errorf("notify: %s: encode message: %w", s.ch.kind, err)
	}
	r, err := s.ch.post(ctx, s.url.Reveal(), body, nil)
	if err != nil {
		return err
	}
	if !statusOK(r.status) {
		return s.ch.httpError(r, "", string(r.body))
	}
	code, msg, err := decodeFeishu(r.body)
	if err != nil {
		return s.ch.httpError(r, "", err.Error())
	}
	if code != 0 {
		return s.ch.httpError(r, strconv.FormatInt(code, 10), msg)
	}
	return nil
}

// encode builds the card and, when the body would pass the 20 KB limit,
// finds by bisection the longest markdown that fits. JSON escaping makes the
// encoded size depend on the text, so it is measured, not estimated.
func (s *feishuSender) encode(m Message) ([]byte, error) {
	var msg feishuMessage
	msg.MsgType = "interactive"
	if s.signer.IsSet() {
		msg.Timestamp = strconv.FormatInt(s.ch.now().Unix(), 10)
		msg.Sign = feishuSign(s.signer.Reveal(), msg.Timestamp)
	}
	msg.Card.Header.Title = feishuText{Tag: "plain_text", Content: truncChars(m.title(), feishuTitleMax)}
	msg.Card.Header.Template = map[Level]string{Info: "blue", Success: "green", Failure: "red"}[m.Level]
	if msg.Card.Header.Template == "" {
		msg.Card.Header.Template = "blue"
	}
	build := func(limit int) ([]byte, error) {
		content := feishuStyle.render(m, limit)
		if content == "" {
			content = m.Level.label()
		}
		msg.Card.Elements = []feishuText{{Tag: "markdown", Content: content}}
		return marshalNoEscape(msg)
	}
	body, err := build(feishuBodyMax)
	if err != nil || len(body) <= feishuBodyMax {
		return body, err
	}
	var best []byte
	lo, hi := 0, feishuBodyMax // the markdown alone is within hi bytes
	for lo <= hi {
		mid := (lo + hi) / 2
		b, err := build(mid)
		if err != nil {
			return nil, err
		}
		if len(b) <= feishuBodyMax {
			best, lo = b, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best == nil {
		return nil, errors.New("message does not shrink to the body limit")
	}
	return best, nil
}

// marshalNoEscape encodes without turning <, > and & into \u003c and
// friends: the mention tag must arrive as written, and the body budget
// stays predictable.
func marshalNoEscape(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// feishuSign is base64(HMAC-SHA256(key = ts + "\n" + secret, msg = empty)),
// facts/chatops.md §5.2: unlike DingTalk, the string to sign is the key.
func feishuSign(sec, ts string) string {
	mac := hmac.New(sha256.New, []byte(ts+"\n"+sec))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// decodeFeishu reads {"code":N,"msg":"..."}, or the older
// {"StatusCode":N,"StatusMessage":"..."} some hooks still answer with.
func decodeFeishu(body []byte) (code int64, msg string, err error) {
	var v struct {
		Code          *int64 `json:"code"`
		Msg           string `json:"msg"`
		StatusCode    *int64 `json:"StatusCode"`
		StatusMessage string `json:"StatusMessage"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, "", errors.New("unexpected response body")
	}
	switch {
	case v.Code != nil:
		return *v.Code, v.Msg, nil
	case v.StatusCode != nil:
		return *v.StatusCode, v.StatusMessage, nil
	}
	return 0, "", errors.New("unexpected response body")
}
