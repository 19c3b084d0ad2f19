package chatops_test

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
)

// Vectors published by the platforms (facts §10) and, where none exist,
// derived once with an independent implementation (Python hashlib/hmac).
const (
	slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackTS     = "1531420618"
	slackBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

	wecomToken  = "QDG6eK"
	wecomAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	wecomCorpID = "wx5823bf96d3bd56c7"
	wecomGetTS  = "1409659589"
	wecomGetNon = "263014780"
	wecomGetEch = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	wecomGetSig = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
	wecomPostTS = "1409659813"
	wecomPostNo = "1372623149"
	wecomPostSg = "477715d11cdb4164915debcba66cb864d751f3e6"
	wecomPostEn = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)

func unix(s string) time.Time {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return time.Unix(n, 0)
}

func TestVerifySlack_vector(t *testing.T) {
	now := unix(slackTS)
	tests := []struct {
		name   string
		ts     string
		sig    string
		body   string
		now    time.Time
		secret string
		want   error
	}{
		{"slack's example", slackTS, slackSig, slackBody, now, slackSecret, nil},
		{"upper-case hex still equal bytes", slackTS, "v0=" + strings.ToUpper(slackSig[3:]), slackBody, now, slackSecret, nil},
		{"edge of window", slackTS, slackSig, slackBody, now.Add(300 * time.Second), slackSecret, nil},
		{"stale", slackTS, slackSig, slackBody, now.Add(301 * time.Second), slackSecret, chatops.ErrStale},
		{"from the future", slackTS, slackSig, slackBody, now.Add(-301 * time.Second), slackSecret, chatops.ErrStale},
		{"tampered body", slackTS, slackSig, strings.Replace(slackBody, "text=", "text=backup", 1), now, slackSecret, chatops.ErrSignature},
		{"wrong secret", slackTS, slackSig, slackBody, now, "other", chatops.ErrSignature},
		{"missing v0 prefix", slackTS, slackSig[3:], slackBody, now, slackSecret, chatops.ErrSignature},
		{"truncated signature", slackTS, slackSig[:40], slackBody, now, slackSecret, chatops.ErrSignature},
		{"no signature", slackTS, "", slackBody, now, slackSecret, chatops.ErrUnsigned},
		{"no timestamp", "", slackSig, slackBody, now, slackSecret, chatops.ErrUnsigned},
		{"negative timestamp", "-1531420618", slackSig, slackBody, now, slackSecret, chatops.ErrStale},
		{"non-numeric timestamp", "1531420618.0", slackSig, slackBody, now, slackSecret, chatops.ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("x-slack-request-timestamp", tt.ts) // lower case, as gateways send them
			h.Set("x-slack-signature", tt.sig)
			err := chatops.VerifySlack(h, []byte(tt.body), tt.secret, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifySlack = %v; want %v", err, tt.want)
			}
		})
	}
	if got := chatops.SlackSignature(slackSecret, slackTS, []byte(slackBody)); got != slackSig {
		t.Errorf("SlackSignature = %s; want %s", got, slackSig)
	}
}

func TestHubSignature_githubVector(t *testing.T) {
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := chatops.HubSignature("It's a Secret to Everybody", []byte("Hello, World!")); got != want {
		t.Errorf("HubSignature = %s; want %s", got, want)
	}
	if err := chatops.VerifyHub(want, []byte("Hello, World!"), "It's a Secret to Everybody"); err != nil {
		t.Errorf("VerifyHub(vector) = %v", err)
	}
	if err := chatops.VerifyHub(want, []byte("Hello, World?"), "It's a Secret to Everybody"); !errors.Is(err, chatops.ErrSignature) {
		t.Errorf("VerifyHub(tampered) = %v; want ErrSignature", err)
	}
	if err := chatops.VerifyHub("sha1="+want[7:], []byte("Hello, World!"), "It's a Secret to Everybody"); !errors.Is(err, chatops.ErrSignature) {
		t.Errorf("VerifyHub(sha1 prefix) = %v; want ErrSignature", err)
	}
}

func TestHookSignature_derived(t *testing.T) {
	const want = "sha256=bf36d39817d4781e400a28f3163b97bbef68b2d491074b422190f2acd4b966ba"
	body := []byte(`{"text":"help"}`)
	h := http.Header{}
	h.Set(chatops.HeaderHubSignature, want)
	h.Set(chatops.HeaderHookTimestamp, "1795852800")
	h.Set(chatops.HeaderHookDelivery, "d-1")
	now := time.Unix(1795852800, 0)
	if err := chatops.VerifyHook(h, body, "hook-secret", now); err != nil {
		t.Errorf("VerifyHook(derived) = %v", err)
	}
	// The GitHub scheme alone (body only) must not pass: the timestamp and
	// delivery id are part of what is signed.
	h.Set(chatops.HeaderHubSignature, chatops.HubSignature("hook-secret", body))
	if err := chatops.VerifyHook(h, body, "hook-secret", now); !errors.Is(err, chatops.ErrSignature) {
		t.Errorf("VerifyHook(body-only signature) = %v; want ErrSignature", err)
	}
	h.Set(chatops.HeaderHubSignature, want)
	h.Set(chatops.HeaderHookDelivery, "d-2")
	if err := chatops.VerifyHook(h, body, "hook-secret", now); !errors.Is(err, chatops.ErrSignature) {
		t.Errorf("VerifyHook(other delivery id) = %v; want ErrSignature", err)
	}
}

func TestDingTalkSign_derived(t *testing.T) {
	const (
		appSecret = "SECtestsecret0001"
		ts        = "1795852800000"
		want      = "z8cfzti5F9UpZGklbW6/i8w7S0AW69oREwVwOKXQhIQ="
	)
	if got := chatops.DingTalkSign(appSecret, ts); got != want {
		t.Errorf("DingTalkSign = %s; want %s", got, want)
	}
	now := time.UnixMilli(1795852800000)
	tests := []struct {
		name string
		sign string
		ts   string
		now  time.Time
		want error
	}{
		{"derived", want, ts, now, nil},
		{"edge of the hour", want, ts, now.Add(time.Hour), nil},
		{"stale", want, ts, now.Add(time.Hour + time.Millisecond), chatops.ErrStale},
		{"seconds instead of ms", chatops.DingTalkSign(appSecret, "1795852800"), "1795852800", now, chatops.ErrStale},
		{"url-encoded sign (the custom-robot form) is not the header form", url.QueryEscape(want), ts, now, chatops.ErrSignature},
		{"no sign", "", ts, now, chatops.ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("timestamp", tt.ts)
			h.Set("sign", tt.sign)
			err := chatops.VerifyDingTalk(h, appSecret, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyDingTalk = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestFeishuSignature_derived(t *testing.T) {
	const want = "0712550eefa29b6b81768c50f9a1da5e7bfcb4750d663b8dafe4ce44ed4c6a3d"
	body := []byte(`{"encrypt":"abc"}`)
	if got := chatops.FeishuSignature("1795852800", "nonce-1", "feishu-key", body); got != want {
		t.Errorf("FeishuSignature = %s; want %s", got, want)
	}
	now := time.Unix(1795852800, 0)
	tests := []struct {
		name string
		sig  string
		body []byte
		now  time.Time
		want error
	}{
		{"derived", want, body, now, nil},
		{"tampered body", want, []byte(`{"encrypt":"abd"}`), now, chatops.ErrSignature},
		{"stale", want, body, now.Add(-6 * time.Minute), chatops.ErrStale},
		{"hmac instead of plain hash", chatops.HubSignature("feishu-key", body)[7:], body, now, chatops.ErrSignature},
		{"garbage", "zz", body, now, chatops.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("x-lark-request-timestamp", "1795852800")
			h.Set("x-lark-request-nonce", "nonce-1")
			h.Set("x-lark-signature", tt.sig)
			err := chatops.VerifyFeishu(h, tt.body, "feishu-key", tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyFeishu = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestDecryptFeishu_vector(t *testing.T) {
	got, err := chatops.DecryptFeishu("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
	if err != nil || string(got) != "hello world" {
		t.Errorf("DecryptFeishu(vector) = %q, %v; want \"hello world\"", got, err)
	}
	if _, err := chatops.DecryptFeishu("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="); !errors.Is(err, chatops.ErrDecrypt) {
		t.Errorf("DecryptFeishu(wrong key) = %v; want ErrDecrypt", err)
	}
}

func TestWeCom_vectors(t *testing.T) {
	if got := chatops.WeComSignature(wecomToken, wecomGetTS, wecomGetNon, wecomGetEch); got != wecomGetSig {
		t.Errorf("WeComSignature(GET) = %s; want %s", got, wecomGetSig)
	}
	if got := chatops.WeComSignature(wecomToken, wecomPostTS, wecomPostNo, wecomPostEn); got != wecomPostSg {
		t.Errorf("WeComSignature(POST) = %s; want %s", got, wecomPostSg)
	}
	msg, rid, err := chatops.DecryptWeCom(wecomAESKey, wecomGetEch)
	if err != nil || string(msg) != "1616140317555161061" || rid != wecomCorpID {
		t.Errorf("DecryptWeCom(echostr) = %q, %q, %v", msg, rid, err)
	}
	msg, rid, err = chatops.DecryptWeCom(wecomAESKey, wecomPostEn)
	if err != nil || rid != wecomCorpID {
		t.Fatalf("DecryptWeCom(POST) = %q, %q, %v", msg, rid, err)
	}
	for _, want := range []string{"<Content><![CDATA[hello]]></Content>", "<MsgId>4561255354251345929</MsgId>", "<AgentID>218</AgentID>"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("DecryptWeCom(POST) = %q; missing %q", msg, want)
		}
	}
	if err := chatops.VerifyWeCom(wecomPostSg, wecomToken, wecomPostTS, wecomPostNo, wecomPostEn, unix(wecomPostTS).Add(time.Hour)); !errors.Is(err, chatops.ErrStale) {
		t.Errorf("VerifyWeCom(an hour later) = %v; want ErrStale", err)
	}
}

// vectorJobs records enqueues for the vector handler tests.
func TestHandler_weComOfficialVectors(t *testing.T) {
	cfg := chatops.Config{
		WeCom:  chatops.WeComConfig{App: chatops.WeComKeys{Token: wecomToken, EncodingAESKey: wecomAESKey}, CorpID: wecomCorpID},
		Policy: chatops.Policy{Backup: chatops.Rule{Anyone: true}, Instances: []string{"*"}},
	}
	t.Run("GET echo", func(t *testing.T) {
		f := newFixture(t, cfg, unix(wecomGetTS))
		q := url.Values{"msg_signature": {wecomGetSig}, "timestamp": {wecomGetTS}, "nonce": {wecomGetNon}, "echostr": {wecomGetEch}}
		rec := f.serve(httptest.NewRequest(http.MethodGet, "/wecom?"+q.Encode(), nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "1616140317555161061" {
			t.Errorf("GET /wecom = %d %q; want 200 \"1616140317555161061\"", rec.Code, rec.Body)
		}
	})
	t.Run("GET echo with unescaped plus", func(t *testing.T) {
		f := newFixture(t, cfg, unix(wecomGetTS))
		raw := "msg_signature=" + wecomGetSig + "&timestamp=" + wecomGetTS + "&nonce=" + wecomGetNon + "&echostr=" + wecomGetEch
		rec := f.serve(httptest.NewRequest(http.MethodGet, "/wecom?"+raw, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "1616140317555161061" {
			t.Errorf("GET /wecom = %d %q; want 200 \"1616140317555161061\"", rec.Code, rec.Body)
		}
	})
	t.Run("GET echo forged", func(t *testing.T) {
		f := newFixture(t, cfg, unix(wecomGetTS))
		q := url.Values{"msg_signature": {wecomPostSg}, "timestamp": {wecomGetTS}, "nonce": {wecomGetNon}, "echostr": {wecomGetEch}}
		if rec := f.serve(httptest.NewRequest(http.MethodGet, "/wecom?"+q.Encode(), nil)); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET /wecom forged = %d; want 401", rec.Code)
		}
	})
	t.Run("POST hello", func(t *testing.T) {
		f := newFixture(t, cfg, unix(wecomPostTS))
		q := url.Values{"msg_signature": {wecomPostSg}, "timestamp": {wecomPostTS}, "nonce": {wecomPostNo}}
		body := "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[" + wecomPostEn + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
		rec := f.serve(httptest.NewRequest(http.MethodPost, "/wecom?"+q.Encode(), strings.NewReader(body)))
		if rec.Code != http.StatusOK || len(f.jobs.enqueued()) != 0 {
			t.Errorf("POST /wecom = %d, %d enqueued; want 200, 0", rec.Code, len(f.jobs.enqueued()))
		}
		// "hello" is not a command: the sender gets the help text.
		var env struct {
			Encrypt   string `xml:"Encrypt"`
			Signature string `xml:"MsgSignature"`
			Timestamp string `xml:"TimeStamp"`
			Nonce     string `xml:"Nonce"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Nonce != wecomPostNo ||
			env.Signature != chatops.WeComSignature(wecomToken, env.Timestamp, env.Nonce, env.Encrypt) {
			t.Fatalf("passive reply %q is not signed for the callback's nonce (%v)", rec.Body, err)
		}
		plain, rid, err := chatops.DecryptWeCom(wecomAESKey, env.Encrypt)
		var m struct {
			ToUserName, Content string
		}
		if err != nil || rid != wecomCorpID || xml.Unmarshal(plain, &m) != nil || m.ToUserName != "mycreate" ||
			!strings.Contains(m.Content, "unknown command") {
			t.Errorf("passive reply %s (%v, receive id %q); want usage help to mycreate", plain, err, rid)
		}
	})
}
