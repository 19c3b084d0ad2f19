package chatops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
)

var now = chatopstest.SampleTime

// platform describes how to build, break and read requests of one platform.
type platform struct {
	name   string
	build  func(chatopstest.Message, time.Time) *http.Request
	unsign func(*http.Request) // drops the proof
	forge  func(*http.Request) // a wrong signature
	tamper func(*http.Request) // changes the signed body
	read   func(*fixture, *httptest.ResponseRecorder) string
	stale  time.Duration // how far the clock must move to be outside the window
	chat   bool          // Origin.Chat is filled
	reply  bool          // the reply URL is filled
}

func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
}

func body(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	setBody(r, b)
	return b
}

// flipHex changes the first hex digit of a signature.
func flipHex(s string) string {
	i := strings.LastIndexAny(s, "=:") + 1
	if i >= len(s) {
		return s + "0"
	}
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}

func flipHeader(name string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, flipHex(r.Header.Get(name))) }
}

func dropHeader(names ...string) func(*http.Request) {
	return func(r *http.Request) {
		for _, n := range names {
			r.Header.Del(n)
		}
	}
}

func queryEdit(f func(q map[string][]string)) func(*http.Request) {
	return func(r *http.Request) {
		q := r.URL.Query()
		f(q)
		r.URL.RawQuery = q.Encode()
	}
}

// flipEncrypted changes one base64 character inside an encrypted body.
func flipEncrypted(r *http.Request) {
	b := body(r)
	i := bytes.Index(b, []byte("ncrypt")) + 16
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	setBody(r, b)
}

func replaceBody(old, new string) func(*http.Request) {
	return func(r *http.Request) { setBody(r, bytes.Replace(body(r), []byte(old), []byte(new), 1)) }
}

func jsonText(path ...string) func(*fixture, *httptest.ResponseRecorder) string {
	return func(f *fixture, rec *httptest.ResponseRecorder) string {
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			f.t.Fatalf("reply %q is not JSON: %v", rec.Body, err)
		}
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		s, _ := v.(string)
		return s
	}
}

func replied(f *fixture, _ *httptest.ResponseRecorder) string { return f.replies.last().text }

// wecomPassive reads the encrypted passive reply of a WeCom callback as
// WeCom does: check its signature, decrypt it, take the text.
func wecomPassive(robot bool) func(*fixture, *httptest.ResponseRecorder) string {
	return func(f *fixture, rec *httptest.ResponseRecorder) string {
		f.t.Helper()
		token, aesKey, rid := chatopstest.WeComToken, chatopstest.WeComEncodingAESKey, chatopstest.WeComCorpID
		var enc, sig, ts, nonce string
		if robot {
			token, aesKey, rid = chatopstest.WeComRobotToken, chatopstest.WeComRobotEncodingAESKey, ""
			var r struct {
				Encrypt   string `json:"encrypt"`
				Signature string `json:"msgsignature"`
				Timestamp int64  `json:"timestamp"`
				Nonce     string `json:"nonce"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				f.t.Fatalf("robot passive reply %q: %v", rec.Body, err)
			}
			enc, sig, ts, nonce = r.Encrypt, r.Signature, strconv.FormatInt(r.Timestamp, 10), r.Nonce
		} else {
			var r struct {
				Encrypt   string `xml:"Encrypt"`
				Signature string `xml:"MsgSignature"`
				Timestamp string `xml:"TimeStamp"`
				Nonce     string `xml:"Nonce"`
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				f.t.Fatalf("app passive reply %q: %v", rec.Body, err)
			}
			enc, sig, ts, nonce = r.Encrypt, r.Signature, r.Timestamp, r.Nonce
		}
		if want := chatops.WeComSignature(token, ts, nonce, enc); sig != want {
			f.t.Fatalf("passive reply signature %q; want %q", sig, want)
		}
		plain, gotRID, err := chatops.DecryptWeCom(aesKey, enc)
		if err != nil || gotRID != rid {
			f.t.Fatalf("passive reply does not decrypt for receive id %q: %v (got %q)", rid, err, gotRID)
		}
		if robot {
			var m struct {
				MsgType string `json:"msgtype"`
				Stream  struct {
					Finish  bool   `json:"finish"`
					Content string `json:"content"`
				} `json:"stream"`
			}
			if json.Unmarshal(plain, &m) != nil || m.MsgType != "stream" || !m.Stream.Finish {
				f.t.Fatalf("robot passive reply %s; want a finished stream message", plain)
			}
			return m.Stream.Content
		}
		var m struct {
			ToUserName string `xml:"ToUserName"`
			MsgType    string `xml:"MsgType"`
			Content    string `xml:"Content"`
		}
		if xml.Unmarshal(plain, &m) != nil || m.MsgType != "text" || m.ToUserName != chatopstest.User {
			f.t.Fatalf("app passive reply %s; want a text message to %s", plain, chatopstest.User)
		}
		return m.Content
	}
}

var platforms = []platform{
	{
		name: "slack", build: chatopstest.Slack,
		unsign: dropHeader(chatops.HeaderSlackSignature),
		forge:  flipHeader(chatops.HeaderSlackSignature),
		tamper: replaceBody("cdb-", "cdb-0"),
		read:   jsonText("text"), stale: 301 * time.Second, chat: true, reply: true,
	},
	{
		name: "wecom-app", build: chatopstest.WeComApp,
		unsign: queryEdit(func(q map[string][]string) { delete(q, "msg_signature") }),
		forge:  queryEdit(func(q map[string][]string) { q["msg_signature"] = []string{flipHex(q["msg_signature"][0])} }),
		tamper: flipEncrypted,
		read:   wecomPassive(false), stale: 301 * time.Second,
	},
	{
		name: "wecom-robot", build: chatopstest.WeComRobot,
		unsign: queryEdit(func(q map[string][]string) { delete(q, "msg_signature") }),
		forge:  queryEdit(func(q map[string][]string) { q["msg_signature"] = []string{flipHex(q["msg_signature"][0])} }),
		tamper: flipEncrypted,
		read:   wecomPassive(true), stale: 301 * time.Second, chat: true, reply: true,
	},
	{
		name: "dingtalk", build: chatopstest.DingTalk,
		unsign: dropHeader("sign"),
		forge:  func(r *http.Request) { chatopstest.SignDingTalk(r, "wrong-secret", now) },
		// The sign does not cover the body; what we can catch is a body
		// that is not for our robot.
		tamper: replaceBody(chatopstest.DingTalkRobotCode, "otherrobot"),
		read:   jsonText("text", "content"), stale: time.Hour + time.Second, chat: true, reply: true,
	},
	{
		name: "feishu", build: chatopstest.Feishu,
		unsign: dropHeader(chatops.HeaderFeishuSignature),
		forge:  flipHeader(chatops.HeaderFeishuSignature),
		tamper: flipEncrypted,
		read:   replied, stale: 301 * time.Second, chat: true,
	},
	{
		name: "hook", build: chatopstest.Hook,
		unsign: dropHeader(chatops.HeaderHubSignature),
		forge:  flipHeader(chatops.HeaderHubSignature),
		tamper: replaceBody("cdb-", "cdb-0"),
		read:   jsonText("text"), stale: 301 * time.Second, chat: true,
	},
}

func TestHandler_signedBackupEnqueuesOnce(t *testing.T) {
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			f := newFixture(t, chatopstest.Config(), now)
			m := chatopstest.Message{ID: "m-1", Text: "/backupflow backup cdb-c1nl9rpv physical"}
			rec := f.serve(p.build(m, now))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d %q; want 200", rec.Code, rec.Body)
			}
			got := f.jobs.enqueued()
			if len(got) != 1 {
				t.Fatalf("enqueued %d requests; want 1", len(got))
			}
			r := got[0]
			plat := strings.SplitN(p.name, "-", 2)[0]
			if !strings.HasPrefix(r.ID, plat+"-") || len(r.ID) != len(plat)+17 {
				t.Errorf("Request.ID = %q; want %s-<16 hex>", r.ID, plat)
			}
			if r.Op != "backup" || r.Instance != "cdb-c1nl9rpv" || r.Method != "physical" || r.Object != "" {
				t.Errorf("Request = %+v; want backup cdb-c1nl9rpv physical", r)
			}
			o := r.Origin
			if o.Platform != plat || o.User != chatopstest.User || o.MessageID != "m-1" {
				t.Errorf("Origin = %+v; want platform %s, user %s, message m-1", o, plat, chatopstest.User)
			}
			if p.chat && o.Chat != chatopstest.Chat {
				t.Errorf("Origin.Chat = %q; want %q", o.Chat, chatopstest.Chat)
			}
			if p.reply && o.ReplyURL == "" {
				t.Errorf("Origin.ReplyURL is empty")
			}
			ack := p.read(f, rec)
			if !strings.Contains(ack, "queued as job "+r.ID) {
				t.Errorf("ack = %q; want it to name job %s", ack, r.ID)
			}

			// A platform resend of the same message: same answer, no second job.
			rec2 := f.serve(p.build(m, now.Add(time.Second)))
			if rec2.Code != http.StatusOK || len(f.jobs.enqueued()) != 1 {
				t.Errorf("replay: status %d, %d enqueued; want 200, 1", rec2.Code, len(f.jobs.enqueued()))
			}
			if again := p.read(f, rec2); again != ack {
				t.Errorf("replay ack = %q; want %q", again, ack)
			}

			// A new message is a new job with a new id.
			f.serve(p.build(chatopstest.Message{ID: "m-2", Text: "backup cdb-c1nl9rpv"}, now.Add(2*time.Second)))
			if got := f.jobs.enqueued(); len(got) != 2 || got[1].ID == r.ID {
				t.Errorf("second message: %d enqueued (ids %v); want 2 distinct", len(got), got)
			}

			// Nothing secret or reply-capable reaches the log.
			for _, leak := range []string{o.ReplyURL, chatopstest.SlackSigningSecret, chatopstest.HookSecret,
				chatopstest.FeishuEncryptKey, chatopstest.DingTalkAppSecret, chatopstest.WeComEncodingAESKey} {
				if leak != "" && strings.Contains(f.logs.String(), leak) {
					t.Errorf("log contains %q", leak)
				}
			}
		})
	}
}

func TestHandler_rejectsUnverified(t *testing.T) {
	for _, p := range platforms {
		cases := []struct {
			name   string
			break_ func(*http.Request)
			clock  time.Duration
		}{
			{"unsigned", p.unsign, 0},
			{"forged", p.forge, 0},
			{"tampered body", p.tamper, 0},
			{"stale", func(*http.Request) {}, p.stale},
			{"from the future", func(*http.Request) {}, -p.stale},
		}
		for _, c := range cases {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				f := newFixture(t, chatopstest.Config(), now.Add(c.clock))
				r := p.build(chatopstest.Message{ID: "m-1", Text: "backup cdb-c1nl9rpv"}, now)
				c.break_(r)
				rec := f.serve(r)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("status = %d %q; want 401", rec.Code, rec.Body)
				}
				if n := len(f.jobs.enqueued()); n != 0 {
					t.Errorf("enqueued %d; want 0", n)
				}
				if r := f.replies.last(); r.text != "" {
					t.Errorf("replied %q; want nothing", r.text)
				}
			})
		}
	}
}

func TestHandler_oversizedBody(t *testing.T) {
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			cfg := chatopstest.Config()
			cfg.MaxBodyBytes = 512
			f := newFixture(t, cfg, now)
			r := p.build(chatopstest.Message{Text: "backup cdb-c1nl9rpv " + strings.Repeat("x", 600)}, now)
			if rec := f.serve(r); rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d; want 413", rec.Code)
			}
			if n := len(f.jobs.enqueued()); n != 0 {
				t.Errorf("enqueued %d; want 0", n)
			}
		})
	}
}

// TestHandler_lowerCaseHeadersOverTheWire sends lower-case header names
// through a real server, as API gateways and function URLs deliver them.
func TestHandler_lowerCaseHeadersOverTheWire(t *testing.T) {
	f := newFixture(t, chatopstest.Config(), now)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			r := p.build(chatopstest.Message{ID: "wire-" + p.name, Text: "backup cdb-c1nl9rpv"}, now)
			out, _ := http.NewRequest(r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body(r)))
			for k, vs := range r.Header {
				out.Header[strings.ToLower(k)] = vs // bypasses canonicalisation on purpose
			}
			resp, err := srv.Client().Do(out)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d; want 200", resp.StatusCode)
			}
		})
	}
	if n := len(f.jobs.enqueued()); n != len(platforms) {
		t.Errorf("enqueued %d; want %d", n, len(platforms))
	}
}

func TestHandler_routing(t *testing.T) {
	cfg := chatops.Config{Slack: chatops.SlackConfig{SigningSecret: chatopstest.SlackSigningSecret}}
	f := newFixture(t, cfg, now)
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"unknown path", httptest.NewRequest(http.MethodPost, "/teams", nil), http.StatusNotFound},
		{"disabled platform", chatopstest.Hook(chatopstest.Message{Text: "help"}, now), http.StatusNotFound},
		{"disabled wecom", chatopstest.WeComURLCheck("x", false, now), http.StatusNotFound},
		{"stage prefix", func() *http.Request {
			r := chatopstest.Slack(chatopstest.Message{Text: "help"}, now)
			r.URL.Path = "/prod/slack/"
			return r
		}(), http.StatusOK},
		{"wrong method", httptest.NewRequest(http.MethodGet, "/slack", nil), http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rec := f.serve(tt.req); rec.Code != tt.want {
				t.Errorf("status = %d; want %d", rec.Code, tt.want)
			}
		})
	}
}

func TestHandler_slackSSLCheck(t *testing.T) {
	f := newFixture(t, chatopstest.Config(), now)
	tests := []struct {
		body string
		want int
	}{
		{"ssl_check=1&token=x", http.StatusOK},
		{"ssl_check=true&text=backup+cdb-c1nl9rpv", http.StatusUnauthorized},
		{"ssl_check=1&ssl_check=1", http.StatusUnauthorized},
		{"ssl_check=01", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		rec := f.serve(httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(tt.body)))
		if rec.Code != tt.want || (tt.want == http.StatusOK && rec.Body.Len() != 0) {
			t.Errorf("POST /slack %q = %d %q; want %d, empty", tt.body, rec.Code, rec.Body, tt.want)
		}
	}
	if n := len(f.jobs.enqueued()); n != 0 {
		t.Errorf("enqueued %d; want 0", n)
	}
}

func TestHandler_urlVerification(t *testing.T) {
	f := newFixture(t, chatopstest.Config(), now)
	for _, robot := range []bool{false, true} {
		rec := f.serve(chatopstest.WeComURLCheck("echo-12345", robot, now))
		if rec.Code != http.StatusOK || rec.Body.String() != "echo-12345" {
			t.Errorf("wecom GET (robot=%v) = %d %q; want 200 echo-12345", robot, rec.Code, rec.Body)
		}
	}
	for _, signed := range []bool{false, true} {
		rec := f.serve(chatopstest.FeishuURLVerification("chal-1", signed, now))
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"challenge":"chal-1"}` {
			t.Errorf("feishu url_verification (signed=%v) = %d %q", signed, rec.Code, rec.Body)
		}
	}
	// A url_verification encrypted with the right key but the wrong token.
	cfg := chatopstest.Config()
	cfg.Feishu.VerificationToken = "another-token"
	f2 := newFixture(t, cfg, now)
	if rec := f2.serve(chatopstest.FeishuURLVerification("chal-1", false, now)); rec.Code != http.StatusUnauthorized {
		t.Errorf("feishu url_verification with wrong token = %d; want 401", rec.Code)
	}
	// An unsigned Feishu event is refused even when it decrypts.
	r := chatopstest.Feishu(chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, now)
	dropHeader(chatops.HeaderFeishuSignature, chatops.HeaderFeishuTimestamp, chatops.HeaderFeishuNonce)(r)
	if rec := f.serve(r); rec.Code != http.StatusUnauthorized || len(f.jobs.enqueued()) != 0 {
		t.Errorf("unsigned feishu event = %d; want 401 and no job", rec.Code)
	}
}

func TestHandler_receiveIDMismatch(t *testing.T) {
	cfg := chatopstest.Config()
	cfg.WeCom.CorpID = "wwsomeoneelse"
	f := newFixture(t, cfg, now)
	if rec := f.serve(chatopstest.WeComApp(chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, now)); rec.Code != http.StatusUnauthorized {
		t.Errorf("status = %d; want 401", rec.Code)
	}
	if rec := f.serve(chatopstest.WeComURLCheck("e", false, now)); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET status = %d; want 401", rec.Code)
	}
}

func TestHandler_dingTalkBodyChecks(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*chatops.Config)
		tamper func(*http.Request)
		want   int
		reply  string
	}{
		{"other corp", nil, replaceBody(`"chatbotCorpId":"`+chatopstest.DingTalkCorpID, `"chatbotCorpId":"x`), http.StatusUnauthorized, ""},
		{"no msgId", nil, replaceBody(`"msgId":"m-1"`, `"msgId":""`), http.StatusUnauthorized, ""},
		{"not JSON", nil, func(r *http.Request) { setBody(r, []byte("backup")) }, http.StatusUnauthorized, ""},
		{"sender not listed", func(c *chatops.Config) { c.DingTalk.Senders = []string{"boss"} }, nil, http.StatusOK, "not allowed"},
		{"sender listed", func(c *chatops.Config) { c.DingTalk.Senders = []string{chatopstest.User} }, nil, http.StatusOK, "queued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := chatopstest.Config()
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			f := newFixture(t, cfg, now)
			r := chatopstest.DingTalk(chatopstest.Message{ID: "m-1", Text: "backup cdb-c1nl9rpv"}, now)
			if tt.tamper != nil {
				tt.tamper(r)
			}
			rec := f.serve(r)
			if rec.Code != tt.want {
				t.Fatalf("status = %d %q; want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.reply != "" && !strings.Contains(jsonText("text", "content")(f, rec), tt.reply) {
				t.Errorf("reply = %q; want %q in it", rec.Body, tt.reply)
			}
		})
	}
}

func TestHandler_oddButAuthentic(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"empty is help", "", "Commands:"},
		{"unknown verb", "restore cdb-c1nl9rpv", "unknown command"},
		{"bad instance", "backup cdb-XYZ", "want the shape"},
		{"status", "status", "2 jobs running"},
	}
	for _, tt := range tests {
		for _, p := range platforms {
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				f := newFixture(t, chatopstest.Config(), now)
				rec := f.serve(p.build(chatopstest.Message{Text: tt.text}, now))
				if rec.Code != http.StatusOK {
					t.Fatalf("status = %d; want 200", rec.Code)
				}
				if got := p.read(f, rec); !strings.Contains(got, tt.want) {
					t.Errorf("reply = %q; want %q in it", got, tt.want)
				}
				if n := len(f.jobs.enqueued()); n != 0 {
					t.Errorf("enqueued %d; want 0", n)
				}
			})
		}
	}
}

func TestHandler_downstreamFailures(t *testing.T) {
	t.Run("enqueue fails", func(t *testing.T) {
		f := newFixture(t, chatopstest.Config(), now)
		f.jobs.fail = errStoreDown
		rec := f.serve(chatopstest.Slack(chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, now))
		if rec.Code != http.StatusOK || !strings.Contains(jsonText("text")(f, rec), "may not have been queued (job slack-") {
			t.Errorf("= %d %q; want 200 naming the job to check", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), errStoreDown.Error()) {
			t.Errorf("reply leaks the internal error: %q", rec.Body)
		}
	})
	t.Run("store down", func(t *testing.T) {
		jobs := &fakeJobs{}
		h, err := chatops.New(chatopstest.Config(), chatops.Deps{Jobs: jobs, Store: brokenStore{},
			Now: func() time.Time { return now }, Logger: newFixture(t, chatopstest.Config(), now).logger()})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, now))
		if rec.Code != http.StatusOK || len(jobs.enqueued()) != 0 {
			t.Errorf("= %d, %d enqueued; want 200, 0", rec.Code, len(jobs.enqueued()))
		}
	})
	t.Run("panic is a generic 500", func(t *testing.T) {
		f := newFixture(t, chatopstest.Config(), now)
		h, err := chatops.New(chatopstest.Config(), chatops.Deps{Jobs: panicJobs{&fakeJobs{}}, Store: f.store,
			Now: func() time.Time { return now }, Logger: f.logger()})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, now))
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "boom") {
			t.Errorf("= %d %q; want 500 without internals", rec.Code, rec.Body)
		}
	})
}

type panicJobs struct{ *fakeJobs }

func (panicJobs) Enqueue(context.Context, chatops.Request) (string, error) { panic("boom") }

// Issue 14 item 6: a captured POST's signature and ciphertext, replayed as
// a URL check, must not be decrypted back to the caller — for the robot the
// plaintext holds response_url, a bearer credential.
func TestHandler_weComURLCheckEchoesOnlyAnEchostr(t *testing.T) {
	f := newFixture(t, chatopstest.Config(), now)
	for name, build := range map[string]func(chatopstest.Message, time.Time) *http.Request{
		"app": chatopstest.WeComApp, "robot": chatopstest.WeComRobot,
	} {
		t.Run(name, func(t *testing.T) {
			post := build(chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, now)
			b := body(post)
			m := regexp.MustCompile(`(?:<Encrypt><!\[CDATA\[|"encrypt":")([A-Za-z0-9+/=]+)`).FindSubmatch(b)
			if m == nil {
				t.Fatalf("no ciphertext in %s", b)
			}
			q := post.URL.Query()
			q.Set("echostr", string(m[1]))
			get := httptest.NewRequest(http.MethodGet, "/wecom?"+q.Encode(), nil)
			rec := f.serve(get)
			if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "cdb-c1nl9rpv") ||
				strings.Contains(rec.Body.String(), "response_url") {
				t.Errorf("GET with a message's ciphertext = %d %q; want a refusal that decrypts nothing", rec.Code, rec.Body)
			}
			if n := len(f.jobs.enqueued()); n != 0 {
				t.Errorf("enqueued %d; want 0", n)
			}
		})
	}
}

// Issue 14 item 7: Slack's Events API URL check is answered with its
// challenge; any other Events API payload is refused with the reason,
// since commands come only as slash commands.
func TestHandler_slackEventsAPI(t *testing.T) {
	f := newFixture(t, chatopstest.Config(), now)
	signed := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		chatopstest.SignSlack(r, chatopstest.SlackSigningSecret, now)
		return r
	}
	rec := f.serve(signed(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`))
	var got struct {
		Challenge string `json:"challenge"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification = %d %q; want 200 with the challenge", rec.Code, rec.Body)
	}
	rec = f.serve(signed(`{"type":"event_callback","event":{"type":"message","text":"backup cdb-c1nl9rpv"}}`))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "slash command") {
		t.Errorf("event_callback = %d %q; want 400 naming slash commands", rec.Code, rec.Body)
	}
	unsigned := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(`{"type":"url_verification","challenge":"c"}`))
	if rec := f.serve(unsigned); rec.Code != http.StatusUnauthorized {
		t.Errorf("unsigned url_verification = %d; want 401", rec.Code)
	}
	if n := len(f.jobs.enqueued()); n != 0 {
		t.Errorf("enqueued %d; want 0", n)
	}
}

// Issue 14 item 4: DingTalk's sign covers only the timestamp, so a
// captured (timestamp, sign) pair is claimed once: a new body under it is
// refused, while a resend of the same message is answered as before.
func TestHandler_dingTalkSignClaimedOnce(t *testing.T) {
	cfg := chatopstest.Config()
	cfg.DingTalk.Senders = []string{"*"}
	f := newFixture(t, cfg, now)
	first := chatopstest.DingTalk(chatopstest.Message{ID: "dt-1", Text: "backup cdb-c1nl9rpv"}, now)
	captured := first.Header.Clone()
	firstBody := body(first)
	if rec := f.serve(first); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "queued") {
		t.Fatalf("first message = %d %q; want it queued", rec.Code, rec.Body)
	}
	forged := chatopstest.DingTalk(chatopstest.Message{ID: "dt-2", User: "boss", Text: "backup mssql-njj2mtpl"}, now.Add(time.Second))
	forged.Header = captured.Clone()
	if rec := f.serve(forged); rec.Code != http.StatusUnauthorized {
		t.Errorf("new body under a captured header pair = %d %q; want 401", rec.Code, rec.Body)
	}
	resend := httptest.NewRequest(http.MethodPost, "/dingtalk", bytes.NewReader(firstBody))
	resend.Header = captured.Clone()
	if rec := f.serve(resend); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "queued") {
		t.Errorf("resend of the same message = %d %q; want the first answer", rec.Code, rec.Body)
	}
	if got := f.jobs.enqueued(); len(got) != 1 || got[0].Instance != "cdb-c1nl9rpv" {
		t.Errorf("jobs %+v; want only the first message's", got)
	}
}
