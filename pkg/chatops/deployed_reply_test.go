package chatops_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/feishuemu"
	"github.com/backupflow/backupflow/internal/emulator/wecomemu"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/provider"
)

// staticSink stands in for a platform's static reply channel
// (BACKUPFLOW_REPLY_<PLATFORM>=webhook:…) and records what arrives.
type staticSink struct {
	mu   sync.Mutex
	got  []string
	srv  *httptest.Server
	spec string
}

func newStaticSink(t *testing.T) *staticSink {
	s := &staticSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, string(b))
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	s.spec = "webhook:" + s.srv.URL + "/static"
	return s
}

func (s *staticSink) posts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func dingTalkEnv() map[string]string {
	return map[string]string{
		"BACKUPFLOW_DINGTALK_APP_SECRET": chatopstest.DingTalkAppSecret,
		"BACKUPFLOW_DINGTALK_ROBOT_CODE": chatopstest.DingTalkRobotCode,
		"BACKUPFLOW_DINGTALK_CORP_ID":    chatopstest.DingTalkCorpID,
		"BACKUPFLOW_DINGTALK_SENDERS":    chatopstest.User,
		"BACKUPFLOW_CHAT_BACKUP_USERS":   "dingtalk:" + chatopstest.User,
	}
}

func wecomRobotEnv() map[string]string {
	return map[string]string{
		"BACKUPFLOW_WECOM_ROBOT_TOKEN":   chatopstest.WeComRobotToken,
		"BACKUPFLOW_WECOM_ROBOT_AES_KEY": chatopstest.WeComRobotEncodingAESKey,
		"BACKUPFLOW_WECOM_CORP_ID":       chatopstest.WeComCorpID,
		"BACKUPFLOW_CHAT_BACKUP_USERS":   "wecom:" + chatopstest.User,
	}
}

// drains returns the deployed create-backup and poll-status handlers, built
// from the function table as their mains build them.
func (d *deployed) drains() []invoke.Handler {
	d.t.Helper()
	var hs []invoke.Handler
	for _, fn := range []string{app.CreateBackup, app.PollStatus} {
		f, ok := app.Lookup(fn)
		if !ok {
			d.t.Fatalf("no %s in the function table", fn)
		}
		h, err := f.Handler(d.app, nil)
		if err != nil {
			d.t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

// runUntil fires both drain timers every 30 s of virtual time until done.
func (d *deployed) runUntil(max time.Duration, done func() bool) {
	d.t.Helper()
	drains := d.drains()
	for el := time.Duration(0); el <= max; el += 30 * time.Second {
		for _, h := range drains {
			if _, err := h(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`)); err != nil {
				d.t.Logf("drain: %v", err)
			}
		}
		if done() {
			return
		}
		d.clock.Advance(30 * time.Second)
	}
	d.t.Fatalf("not done after %s of virtual time; log:\n%s", max, d.logs)
}

// handlePath is where the emulator receives a handle: its path and query.
func handlePath(t *testing.T, handle string) string {
	u, err := url.Parse(handle)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func wecomAppEnv() map[string]string {
	return map[string]string{
		"BACKUPFLOW_WECOM_TOKEN":       chatopstest.WeComToken,
		"BACKUPFLOW_WECOM_AES_KEY":     chatopstest.WeComEncodingAESKey,
		"BACKUPFLOW_WECOM_CORP_ID":     chatopstest.WeComCorpID,
		"BACKUPFLOW_WECOM_APP_SECRET":  wecomemu.DefaultSecret,
		"BACKUPFLOW_WECOM_AGENT_ID":    chatopstest.WeComAgentID,
		"BACKUPFLOW_CHAT_BACKUP_USERS": "wecom:" + chatopstest.User,
	}
}

func hookEnv() map[string]string {
	return map[string]string{
		"BACKUPFLOW_HOOK_SECRET":       chatopstest.HookSecret,
		"BACKUPFLOW_CHAT_BACKUP_USERS": "hook:" + chatopstest.User,
	}
}

// conversation is what one conversation received, as its platform shows it.
type conversation struct {
	// answer is the immediate answer: from the HTTP answer (Slack, DingTalk,
	// WeCom passive replies, the hook) or the platform's API (Feishu).
	answer func(d *deployed, m chatopstest.Message, rec *httptest.ResponseRecorder) string
	// results are the messages that arrived after the answer.
	results func(d *deployed, m chatopstest.Message, static *staticSink) []string
}

func fromBody(read func(*fixture, *httptest.ResponseRecorder) string) func(*deployed, chatopstest.Message, *httptest.ResponseRecorder) string {
	return func(d *deployed, _ chatopstest.Message, rec *httptest.ResponseRecorder) string {
		return read(&fixture{t: d.t}, rec)
	}
}

func atHandle(handle func(chatopstest.Message) string) func(*deployed, chatopstest.Message, *staticSink) []string {
	return func(d *deployed, m chatopstest.Message, _ *staticSink) []string {
		var out []string
		for _, p := range d.emu.Chat.To(handlePath(d.t, handle(m))) {
			out = append(out, p.Text)
		}
		return out
	}
}

// Issue 14, done-when: for each platform a job started from chat ends with
// the immediate answer and then its result in the conversation the command
// came from — through the reply handle the command arrived with while that
// handle lasts (after it expires, the platform's static reply channel), or
// through the platform's own API (Feishu's IM reply under the command's
// message, the WeCom app's message API to who asked), or for the generic
// hook its static reply channel. The deployed constructor, configured from
// the environment, over the COS ledger and CMQ on the emulator.
func TestDeployed_resultReturnsToTheConversation(t *testing.T) {
	platforms := []struct {
		name, platform, instance string
		env                      map[string]string
		req                      func(chatopstest.Message, time.Time) *http.Request
		conversation
		handle       func(chatopstest.Message) string // as the request builder sets it; nil: none
		lifetime     time.Duration                    // how long the platform honours it
		responseType string
	}{
		{
			name: "slack", platform: "slack", instance: "cdb-c1nl9rpv",
			env: slackEnv("BACKUPFLOW_CHAT_BACKUP_USERS", "slack:"+chatopstest.User),
			req: chatopstest.Slack,
			handle: func(m chatopstest.Message) string {
				return "https://hooks.slack.com/commands/" + chatopstest.Team + "/1/" + m.ID
			},
			conversation: conversation{answer: fromBody(jsonText("text"))},
			lifetime:     30 * time.Minute, responseType: "in_channel",
		},
		{
			name: "dingtalk", platform: "dingtalk", instance: "cmgo-ayxpky6l",
			env: dingTalkEnv(), req: chatopstest.DingTalk,
			conversation: conversation{answer: fromBody(jsonText("text", "content"))},
			handle: func(m chatopstest.Message) string {
				return "https://oapi.dingtalk.com/robot/sendBySession?session=" + m.ID
			},
			// chatopstest.DingTalk sets sessionWebhookExpiredTime 90
			// minutes after the message, as DingTalk does.
			lifetime: 90 * time.Minute,
		},
		{
			name: "wecom robot", platform: "wecom", instance: "mssql-i1z41iwd",
			env: wecomRobotEnv(), req: chatopstest.WeComRobot,
			conversation: conversation{answer: fromBody(wecomPassive(true))},
			handle: func(m chatopstest.Message) string {
				return "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=" + m.ID
			},
			lifetime: time.Hour,
		},
		{
			name: "wecom app", platform: "wecom", instance: "mssql-i1z41iwd",
			env: wecomAppEnv(), req: chatopstest.WeComApp,
			conversation: conversation{answer: fromBody(wecomPassive(false)),
				results: func(d *deployed, m chatopstest.Message, _ *staticSink) []string {
					var out []string
					for _, s := range d.emu.WeCom.Sent() {
						if s.ToUser != chatopstest.User || s.AgentID != wecomemu.DefaultAgentID {
							d.t.Errorf("app message to %q as agent %d; want %q as %d", s.ToUser, s.AgentID, chatopstest.User, wecomemu.DefaultAgentID)
						}
						out = append(out, s.Text+"\n"+s.ToUser)
					}
					return out
				}},
		},
		{
			name: "feishu", platform: "feishu", instance: "cdb-c1nl9rpv",
			env: feishuEnv(feishuemu.DefaultAppSecret), req: chatopstest.Feishu,
			conversation: conversation{
				answer: func(d *deployed, m chatopstest.Message, _ *httptest.ResponseRecorder) string {
					got := d.emu.Feishu.Replies()
					if len(got) != 1 || got[0].MessageID != "om_"+m.ID {
						d.t.Fatalf("feishu replies %+v; want the answer under om_%s", got, m.ID)
					}
					return got[0].Text
				},
				results: func(d *deployed, m chatopstest.Message, _ *staticSink) []string {
					var out []string
					for _, r := range d.emu.Feishu.Replies()[1:] {
						if r.MessageID != "om_"+m.ID {
							d.t.Errorf("result replied under %s; want om_%s, the command", r.MessageID, m.ID)
						}
						out = append(out, r.Text)
					}
					return out
				}},
		},
		{
			name: "hook", platform: "hook", instance: "cdb-c1nl9rpv",
			env: hookEnv(), req: chatopstest.Hook,
			conversation: conversation{answer: fromBody(jsonText("text")),
				// The hook's conversation is its static reply channel
				// (BACKUPFLOW_REPLY_HOOK): its reply_url has no known
				// lifetime and is never posted to.
				results: func(_ *deployed, _ chatopstest.Message, static *staticSink) []string { return static.posts() }},
		},
	}
	for _, p := range platforms {
		variants := []bool{false}
		if p.handle != nil {
			variants = append(variants, true)
			p.results = atHandle(p.handle)
		}
		for _, expired := range variants {
			name := p.name + "/fresh handle"
			switch {
			case p.handle == nil:
				name = p.name
			case expired:
				name = p.name + "/expired handle"
			}
			t.Run(name, func(t *testing.T) {
				static := newStaticSink(t)
				env := map[string]string{app.ReplyVariables[p.platform]: static.spec}
				if p.handle == nil && p.platform != "hook" {
					delete(env, app.ReplyVariables[p.platform]) // the platform's API is the way back
				}
				for k, v := range p.env {
					env[k] = v
				}
				clock := clocktest.New(now)
				d := newDeployed(t, clock, env)
				m := chatopstest.Message{ID: "res-" + strings.ReplaceAll(p.name, " ", "-"), Text: "backup " + p.instance}
				rec := d.serve(p.req(m, clock.Now()))
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d %s", rec.Code, rec.Body)
				}
				// The answer, in the conversation at once.
				ack := p.answer(d, m, rec)
				job, spec := d.queued(ack)
				if spec.InstanceID != p.instance {
					t.Fatalf("queued %+v; want a backup of %s", spec, p.instance)
				}
				if expired {
					clock.Advance(p.lifetime + time.Minute)
				}
				d.runUntil(2*time.Hour, func() bool {
					return len(p.results(d, m, static)) > 0 || len(static.posts()) > 0
				})
				// The job: one backup of the instance, succeeded.
				var backups []string
				for _, j := range d.emu.Jobs() {
					backups = append(backups, j.InstanceID)
					if j.InstanceID == p.instance && j.State != provider.Succeeded {
						t.Errorf("backup of %s ended %v", p.instance, j.State)
					}
				}
				if len(backups) != 1 || backups[0] != p.instance {
					t.Errorf("emulated jobs %v; want one backup of %s", backups, p.instance)
				}
				// The result, in the same conversation.
				got := p.results(d, m, static)
				if expired {
					if len(got) != 0 || len(static.posts()) != 1 {
						t.Fatalf("expired handle: %d posts to it, %d to the static channel; want 0 and 1", len(got), len(static.posts()))
					}
					if s := static.posts()[0]; !strings.Contains(s, p.instance) || !strings.Contains(s, job) {
						t.Errorf("static result %s does not name %s and job %s", s, p.instance, job)
					}
					return
				}
				elsewhere := len(d.emu.Chat.Posts()) + len(d.emu.WeCom.Sent()) + len(d.emu.Feishu.Replies()) + len(static.posts()) - len(got)
				if p.platform == "feishu" {
					elsewhere-- // the immediate answer
				}
				if len(got) != 1 || elsewhere != 0 {
					t.Fatalf("results %q in the conversation, %d elsewhere; want exactly one, in the conversation (log:\n%s)", got, elsewhere, d.logs)
				}
				if p.responseType != "" {
					if r := d.emu.Chat.To(handlePath(t, p.handle(m)))[0]; r.ResponseType != p.responseType {
						t.Errorf("response_type %q; want %q", r.ResponseType, p.responseType)
					}
				}
				for _, want := range []string{p.instance, job, "succeeded", chatopstest.User} {
					if !strings.Contains(got[0], want) {
						t.Errorf("result %q does not contain %q", got[0], want)
					}
				}
				if p.handle == nil {
					return
				}
				// The handle is a credential: never in a log line, nor in
				// the status record `status` reads.
				handle := handlePath(t, p.handle(m))
				if logs := d.logs.String(); strings.Contains(logs, handle) || strings.Contains(logs, url.QueryEscape(handle)) {
					t.Errorf("the reply handle reached the log:\n%s", logs)
				}
				if st, _, err := d.app.Service.State(context.Background(), job); err != nil || st.Origin.Reply != "" {
					t.Errorf("status record of %s holds the reply handle (err %v)", job, err)
				}
			})
		}
	}
}

// resultOnStatic runs one command's job to its end and reports the posts
// at its handle and on the static channel.
func resultOnStatic(t *testing.T, env map[string]string, platform string, r *http.Request, handle string, before func(*deployed)) (atHandle int, static []string) {
	t.Helper()
	sink := newStaticSink(t)
	env[app.ReplyVariables[platform]] = sink.spec
	d := newDeployed(t, clocktest.New(now), env)
	if rec := d.serve(r); rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	if before != nil {
		before(d)
	}
	base := len(d.emu.Chat.Posts())
	d.runUntil(2*time.Hour, func() bool { return len(sink.posts()) > 0 || len(d.emu.Chat.Posts()) > base })
	if strings.Contains(d.logs.String(), handle) || strings.Contains(d.logs.String(), url.QueryEscape(handle)) {
		t.Errorf("the reply handle reached the log:\n%s", d.logs)
	}
	return len(d.emu.Chat.To(handle)), sink.posts()
}

// DingTalk's session webhook lasts until the sessionWebhookExpiredTime the
// message states, not a lifetime assumed here: past it, the result goes to
// the static robot.
func TestDeployed_dingtalkSessionWebhookExpiresWhenTheMessageSays(t *testing.T) {
	m := chatopstest.Message{ID: "dt-short", Text: "backup cmgo-ayxpky6l"}
	r := chatopstest.DingTalk(m, now)
	exp := strconv.FormatInt(now.Add(90*time.Minute).UnixMilli(), 10)
	replaceBody(`"sessionWebhookExpiredTime":`+exp, `"sessionWebhookExpiredTime":`+strconv.FormatInt(now.Add(2*time.Minute).UnixMilli(), 10))(r)
	n, static := resultOnStatic(t, dingTalkEnv(), "dingtalk", r, "/robot/sendBySession?session=dt-short",
		func(d *deployed) { d.clock.Advance(5 * time.Minute) })
	if n != 0 || len(static) != 1 || !strings.Contains(static[0], "cmgo-ayxpky6l") {
		t.Errorf("%d posts to the expired session webhook, static %q; want the result on the static robot only", n, static)
	}
}

// A handle the platform refuses (a WeCom robot's response_url takes one
// post; here someone used it first) is not retried: the result goes to the
// static channel, once.
func TestDeployed_refusedHandleFallsBackToStatic(t *testing.T) {
	m := chatopstest.Message{ID: "wc-used", Text: "backup mssql-i1z41iwd"}
	handle := "/cgi-bin/aibot/response?response_code=wc-used"
	n, static := resultOnStatic(t, wecomRobotEnv(), "wecom", chatopstest.WeComRobot(m, now), handle, func(d *deployed) {
		d.emu.Chat.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, handle,
			strings.NewReader(`{"msgtype":"markdown","markdown":{"content":"someone else"}}`)))
	})
	if n != 1 || len(static) != 1 || !strings.Contains(static[0], "mssql-i1z41iwd") {
		t.Errorf("%d posts taken at the handle (1 by someone else), static %q; want the result on the static channel once", n, static)
	}
}

// An import confirmed with `confirm <code>` ends in the conversation
// through the confirm message's response_url (the fresher handle); the
// import message's is not posted to.
func TestDeployed_confirmedImportAnswersThroughTheConfirmHandle(t *testing.T) {
	d := newDeployed(t, clocktest.New(now), slackEnv("BACKUPFLOW_CHAT_IMPORT_USERS", "slack:"+chatopstest.User))
	if err := d.emu.COS.Put("backups-1250000000", "orders.bak", append([]byte("TAPE"), make([]byte, 1020)...)); err != nil {
		t.Fatal(err)
	}
	prompt := d.slack(chatopstest.Message{ID: "imp-h", Text: "import cos://backups-1250000000/orders.bak to mssql-njj2mtpl"})
	code := codeRE.FindStringSubmatch(prompt)
	if code == nil {
		t.Fatalf("import answered %q; want a confirmation code", prompt)
	}
	job, _ := d.queued(d.slack(chatopstest.Message{ID: "conf-h", Text: "confirm " + code[1]}))
	confirmHandle := "/commands/" + chatopstest.Team + "/1/conf-h"
	d.runUntil(2*time.Hour, func() bool { return len(d.emu.Chat.Posts()) > 0 })
	got := d.emu.Chat.To(confirmHandle)
	if len(got) != 1 || len(d.emu.Chat.Posts()) != 1 {
		t.Fatalf("posts %+v; want the one result at the confirm message's handle", d.emu.Chat.Posts())
	}
	if !strings.Contains(got[0].Text, job) || !strings.Contains(got[0].Text, "mssql-njj2mtpl") {
		t.Errorf("result %q does not name job %s and its instance", got[0].Text, job)
	}
}

// The WeCom app's access token is fetched once and reused for later
// results; a wrong app secret gets no token, so the result goes to the
// static channel instead, and the log names WeCom's refusal, never the
// secret.
func TestDeployed_wecomAppCredentials(t *testing.T) {
	t.Run("token cached", func(t *testing.T) {
		d := newDeployed(t, clocktest.New(now), wecomAppEnv())
		for _, id := range []string{"wa-1", "wa-2"} {
			m := chatopstest.Message{ID: id, Text: "backup mssql-i1z41iwd"}
			if rec := d.serve(chatopstest.WeComApp(m, d.clock.Now())); rec.Code != http.StatusOK {
				t.Fatalf("status %d %s", rec.Code, rec.Body)
			}
		}
		d.runUntil(2*time.Hour, func() bool { return len(d.emu.WeCom.Sent()) >= 2 })
		if n := d.emu.WeCom.TokensIssued(); n != 1 {
			t.Errorf("%d access tokens fetched for two results; want 1, cached", n)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		env := wecomAppEnv()
		env["BACKUPFLOW_WECOM_APP_SECRET"] = "not-the-app-secret"
		static := newStaticSink(t)
		env[app.ReplyVariables["wecom"]] = static.spec
		d := newDeployed(t, clocktest.New(now), env)
		m := chatopstest.Message{ID: "wa-x", Text: "backup mssql-i1z41iwd"}
		if rec := d.serve(chatopstest.WeComApp(m, now)); rec.Code != http.StatusOK {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
		d.runUntil(2*time.Hour, func() bool { return len(static.posts()) > 0 })
		if n := len(d.emu.WeCom.Sent()); n != 0 || len(static.posts()) != 1 || !strings.Contains(static.posts()[0], "mssql-i1z41iwd") {
			t.Errorf("%d app messages, static %q; want the result on the static channel only", n, static.posts())
		}
		if logs := d.logs.String(); !strings.Contains(logs, "40001") || strings.Contains(logs, "not-the-app-secret") {
			t.Errorf("log does not name the refusal, or leaks the secret:\n%s", logs)
		}
	})
}

// A Feishu app whose secret is refused cannot reply, so the job's result
// goes to the static Feishu bot, once.
func TestDeployed_feishuResultFallsBackToStatic(t *testing.T) {
	env := feishuEnv("not-the-secret")
	static := newStaticSink(t)
	env[app.ReplyVariables["feishu"]] = static.spec
	d := newDeployed(t, clocktest.New(now), env)
	m := chatopstest.Message{ID: "fs-static", Text: "backup cdb-c1nl9rpv"}
	if rec := d.serve(chatopstest.Feishu(m, now)); rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	// The immediate answer goes to the static bot too (no token).
	if ps := static.posts(); len(ps) != 1 || !strings.Contains(ps[0], "queued as job") {
		t.Fatalf("static posts %q; want the immediate answer", ps)
	}
	d.runUntil(2*time.Hour, func() bool {
		for _, p := range static.posts() {
			if strings.Contains(p, "succeeded") {
				return true
			}
		}
		return false
	})
	var results int
	for _, p := range static.posts() {
		if strings.Contains(p, "succeeded") && strings.Contains(p, "cdb-c1nl9rpv") {
			results++
		}
	}
	if results != 1 || len(d.emu.Feishu.Replies()) != 0 {
		t.Errorf("%d results on the static bot, %d replies; want 1 and 0 (posts %q)", results, len(d.emu.Feishu.Replies()), static.posts())
	}
	if strings.Contains(d.logs.String(), "not-the-secret") {
		t.Errorf("the app secret reached the log:\n%s", d.logs)
	}
}
