package app_test

import (
	"context"
	"encoding/xml"
	"github.com/backupflow/backupflow/internal/local"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/provider"
)

// sink stands in for each platform's reply channel and records what arrives.
type sink struct {
	mu  sync.Mutex
	got map[string][]string
	srv *httptest.Server
}

func newSink(t *testing.T) *sink {
	s := &sink{got: map[string][]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got[strings.Trim(r.URL.Path, "/")] = append(s.got[strings.Trim(r.URL.Path, "/")], string(b))
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) count(platform string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got[platform])
}

func TestEndToEnd_ChatCommandPerPlatform(t *testing.T) {
	type build func(chatopstest.Message, time.Time) *http.Request
	platforms := []struct {
		name, platform, instance string
		req                      build
		unsign                   []string // headers or query keys whose removal must make it 401
	}{
		{"slack", "slack", "cdb-c1nl9rpv", chatopstest.Slack, []string{"X-Slack-Signature"}},
		{"wecom app", "wecom", "mssql-njj2mtpl", chatopstest.WeComApp, []string{"msg_signature"}},
		{"wecom robot", "wecom", "mssql-i1z41iwd", chatopstest.WeComRobot, []string{"msg_signature"}},
		{"dingtalk", "dingtalk", "cmgo-ayxpky6l", chatopstest.DingTalk, []string{"Sign"}},
		{"feishu", "feishu", "d8e6ca5a624745bcb546a227aa3ae1cfin01", chatopstest.Feishu, []string{"X-Lark-Signature"}},
		{"hook", "hook", "cdb-k2m4p6r8", chatopstest.Hook, []string{"X-Hub-Signature-256"}},
	}
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			sk := newSink(t)
			env := map[string]string{}
			for plat, v := range app.ReplyVariables {
				env[v] = "webhook:" + sk.srv.URL + "/" + plat
			}
			s := newStack(t, emulator.Options{}, env)
			h, err := chatapp.New(s.app, chatopstest.Config(), nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := chatopstest.Message{ID: "m-" + strings.ReplaceAll(p.name, " ", "-"), Text: "backup " + p.instance}

			// Unsigned: 401 and nothing happens.
			bad := p.req(msg, s.clk.Now())
			for _, k := range p.unsign {
				bad.Header.Del(k)
				q := bad.URL.Query()
				q.Del(k)
				bad.URL.RawQuery = q.Encode()
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, bad)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("unsigned request: status %d; want 401", rec.Code)
			}

			// Signed: accepted, and a resend changes nothing.
			for i := range 2 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, p.req(msg, s.clk.Now()))
				if rec.Code != http.StatusOK {
					t.Fatalf("signed request %d: status %d body %q", i, rec.Code, rec.Body.String())
				}
			}
			// Feishu carries no text in its HTTP answer: acknowledgements
			// arrive on the reply channel first; the result is the one
			// message after them, on the static channel or, for a platform
			// that hands out a reply handle (Slack, DingTalk, WeCom robot),
			// at that handle in the emulator.
			results := func() int { return sk.count(p.platform) + len(s.emu.Chat.Posts()) }
			acks, sinkAcks := results(), sk.count(p.platform)
			s.runFor(2*time.Hour, func() bool { return results() > acks })
			backups := 0
			for _, j := range s.emu.Jobs() {
				if j.InstanceID == p.instance {
					backups++
					if j.State != provider.Succeeded {
						t.Errorf("backup ended %v", j.State)
					}
				}
			}
			if backups != 1 || len(s.emu.Jobs()) != 1 {
				t.Errorf("emulator holds %d jobs, %d on %s; want exactly one backup of %s", len(s.emu.Jobs()), backups, p.instance, p.instance)
			}
			if got := results(); got != acks+1 {
				t.Errorf("replies to %s = %d after %d acknowledgements; want exactly one result", p.platform, got, acks)
			}
			sk.mu.Lock()
			reply := strings.Join(sk.got[p.platform][sinkAcks:], "")
			sk.mu.Unlock()
			for _, c := range s.emu.Chat.Posts() {
				reply += c.Text
			}
			if !strings.Contains(reply, p.instance) || !strings.Contains(reply, chatopstest.User) {
				t.Errorf("reply %q does not name the instance and mention the user", reply)
			}
		})
	}
}

// TestDeployedChatAnswersInTheConversation: the deployed chatops
// constructor, configured only from the environment, and the local stack's
// chat handler answer alike: a WeCom user in the callback's encrypted
// passive reply, a Feishu user (whose HTTP answer carries no text) on the
// platform's reply channel.
func TestDeployedChatAnswersInTheConversation(t *testing.T) {
	for _, p := range []struct {
		name, platform string
		req            func(chatopstest.Message, time.Time) *http.Request
	}{
		{"wecom app", "wecom", chatopstest.WeComApp},
		{"feishu", "feishu", chatopstest.Feishu},
	} {
		for _, via := range []string{"deployed", "local"} {
			t.Run(p.name+"/"+via, func(t *testing.T) {
				sk := newSink(t)
				env := map[string]string{}
				for plat, v := range app.ReplyVariables {
					env[v] = "webhook:" + sk.srv.URL + "/" + plat
				}
				maps.Copy(env, map[string]string{
					"BACKUPFLOW_WECOM_TOKEN": chatopstest.WeComToken, "BACKUPFLOW_WECOM_AES_KEY": chatopstest.WeComEncodingAESKey,
					"BACKUPFLOW_WECOM_CORP_ID":             chatopstest.WeComCorpID,
					"BACKUPFLOW_FEISHU_ENCRYPT_KEY":        chatopstest.FeishuEncryptKey,
					"BACKUPFLOW_FEISHU_APP_ID":             chatopstest.FeishuAppID,
					"BACKUPFLOW_CHAT_BACKUP_ANYONE":        "true",
					"BACKUPFLOW_FEISHU_VERIFICATION_TOKEN": chatopstest.FeishuVerificationToken,
				})
				s := newStack(t, emulator.Options{}, env) // sets the environment as deployed
				var h http.Handler
				var err error
				now := time.Now()
				if via == "deployed" {
					h, err = chatapp.Handler(context.Background())
				} else {
					h, err = local.ChatHandler(s.app, func() time.Time { return now })
				}
				if err != nil {
					t.Fatal(err)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, p.req(chatopstest.Message{ID: "answer-" + via, Text: "help"}, now))
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if p.platform == "wecom" {
					var env struct{ Encrypt string }
					if err := xml.Unmarshal(rec.Body.Bytes(), &env); err != nil {
						t.Fatalf("no passive reply in %q: %v", rec.Body, err)
					}
					plain, _, err := chatops.DecryptWeCom(chatopstest.WeComEncodingAESKey, env.Encrypt)
					if err != nil || !strings.Contains(string(plain), "backup") {
						t.Errorf("passive reply %q (%v) is not the help text", plain, err)
					}
					if got := sk.count(p.platform); got != 0 {
						t.Errorf("%d more answers on the reply channel; want the passive reply only", got)
					}
					return
				}
				if got := sk.count(p.platform); got != 1 {
					t.Fatalf("%d answers reached the %s conversation; want 1 (the help text)", got, p.platform)
				}
				if txt := strings.Join(sk.got[p.platform], ""); !strings.Contains(txt, "backup") {
					t.Errorf("answer %q is not the help text", txt)
				}
			})
		}
	}
}
