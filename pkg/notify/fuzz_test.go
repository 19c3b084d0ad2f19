package notify

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary specs to the config parser: it must not panic,
// and whatever credential-looking text follows the kind must not come back
// in an error or in String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		slackSpec, "wecom:" + wecomKey, "wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
		"dingtalk:" + dingToken + "?secret=" + dingSecret, "dingtalk:https://oapi.dingtalk.com/robot/send?access_token=t&secret=SECx",
		"feishu:" + feishuToken + "?secret=" + feishuSecret, "lark:t", "feishu:https://open.feishu.cn/open-apis/bot/v2/hook/t",
		"webhook:https://u:p@example.com/a/b?x=1&secret=s", "webhook:http://[::1]:80/h", "print:", "stdout:slack",
		"https://hooks.slack.com/services/T/B/X", "x:%zz", "dingtalk:t?secret=%", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec, &Options{Endpoints: map[string]string{"wecom": "http://127.0.0.1:1"}})
		_, rest, _ := strings.Cut(strings.TrimSpace(spec), ":")
		// A URL's scheme and host are shown on purpose; the rest is not.
		if u, err := url.Parse(rest); err == nil && u.Host != "" {
			rest = rest[min(len(rest), len(u.Scheme)+len("://")+len(u.Host)):]
		}
		// Short tails may coincide with words of a message; long ones are
		// what a credential looks like.
		leaks := func(text string) bool { return len(rest) >= 16 && strings.Contains(text, rest) }
		if err != nil {
			if s != nil {
				t.Errorf("Parse returned both a sender and an error")
			}
			if leaks(err.Error()) {
				t.Errorf("Parse error %q repeats the spec", err)
			}
			return
		}
		if str := describe(s); leaks(str) && !strings.HasPrefix(spec, "print:") && !strings.HasPrefix(spec, "stdout:") {
			t.Errorf("String() = %q repeats the spec", str)
		}
	})
}

// FuzzResponse feeds arbitrary platform answers to every response check.
// Whatever comes back, the result is an accept or an *Error whose text is
// bounded, one line, valid UTF-8 and free of the channel's secrets.
func FuzzResponse(f *testing.F) {
	for _, b := range []string{
		`{"errcode":0,"errmsg":"ok"}`, `{"errcode":93000,"errmsg":"invalid webhook url"}`, `{"errcode":1e3}`,
		`{"code":0,"msg":"success","data":{}}`, `{"code":19021,"msg":"sign match fail"}`, `{"StatusCode":0}`,
		"ok", "invalid_payload", "", "null", `{"errcode":"0"}`, "\xff\xfe", `{"errmsg":"` + wecomKey + `"}`,
	} {
		f.Add(200, []byte(b))
		f.Add(429, []byte(b))
	}
	ch := &channel{kind: "wecom", now: clock, secrets: newRedactor(wecomKey)}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r := &response{status: status, header: http.Header{"Retry-After": {string(body)}}, body: body}
		check := func(err error) {
			if err == nil {
				return
			}
			msg := err.Error()
			if len(msg) > 600 || strings.ContainsAny(msg, "\n\r") || !utf8.ValidString(msg) || strings.Contains(msg, wecomKey) {
				t.Errorf("unsafe error text %q", msg)
			}
		}
		check(ch.checkErrcode(r))
		code, msg, err := decodeFeishu(body)
		if err == nil {
			check(ch.httpError(r, strconv.FormatInt(code, 10), msg))
		}
		check(ch.httpError(r, firstLine(string(body)), ""))
		if d := parseRetryAfter(string(body), fixedNow); d < 0 || d > 3600e9 {
			t.Errorf("parseRetryAfter(%q) = %v; want 0..1h", body, d)
		}
		if code, _, err := decodeErrcode(body); err == nil && code == 0 && !bytes.Contains(body, []byte("0")) {
			t.Errorf("decodeErrcode(%q) accepted a body without a zero errcode", body)
		}
	})
}

// FuzzTruncate checks the truncation invariants on arbitrary text.
func FuzzTruncate(f *testing.F) {
	f.Add("x备份😀&<>", 5)
	f.Add(strings.Repeat("é", 100), 3000)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		s = strings.ToValidUTF8(s, "\uFFFD")
		if got := truncBytes(s, max); len(got) > max || !utf8.ValidString(got) || (len(s) <= max && got != s) {
			t.Errorf("truncBytes(%q, %d) = %q", s, max, got)
		}
		if got := truncChars(s, max); units(got) > max || !utf8.ValidString(got) {
			t.Errorf("truncChars(%q, %d) = %q", s, max, got)
		}
		if got := slackEscTrunc(s, max); units(got) > max || strings.ContainsAny(got, "<>") {
			t.Errorf("slackEscTrunc(%q, %d) = %q", s, max, got)
		}
	})
}
