package chatops_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
)

func slackText(t *testing.T, f *fixture, m chatopstest.Message) string {
	t.Helper()
	rec := f.serve(chatopstest.Slack(m, f.clock.Now()))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200", rec.Code)
	}
	return jsonText("text")(f, rec)
}

func TestHandler_authorization(t *testing.T) {
	base := func() chatops.Config {
		c := chatopstest.Config()
		c.Policy = chatops.Policy{Instances: []string{"cdb-*"}}
		return c
	}
	tests := []struct {
		name    string
		policy  func(*chatops.Policy)
		msg     chatopstest.Message
		queued  bool
		replyRE string
	}{
		{"backup denied by default", nil, chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, false, "not allowed"},
		{"backup for anyone", func(p *chatops.Policy) { p.Backup.Anyone = true }, chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, true, "queued"},
		{"backup for a listed user", func(p *chatops.Policy) { p.Backup.Users = []string{"slack:alice"} },
			chatopstest.Message{User: "alice", Text: "backup cdb-c1nl9rpv"}, true, "queued"},
		{"same id on another platform is not listed", func(p *chatops.Policy) { p.Backup.Users = []string{"wecom:alice"} },
			chatopstest.Message{User: "alice", Text: "backup cdb-c1nl9rpv"}, false, "not allowed"},
		{"platform wildcard", func(p *chatops.Policy) { p.Backup.Users = []string{"slack:*"} },
			chatopstest.Message{User: "bob", Text: "backup cdb-c1nl9rpv"}, true, "queued"},
		{"instance outside the patterns", func(p *chatops.Policy) { p.Backup.Anyone = true },
			chatopstest.Message{Text: "backup mssql-abcd1234"}, false, "not allowed"},
		{"no instance patterns, nothing allowed", func(p *chatops.Policy) { p.Backup.Anyone = true; p.Instances = nil },
			chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, false, "not allowed"},
		{"team restriction", func(p *chatops.Policy) { p.Backup = chatops.Rule{Anyone: true, Teams: []string{"slack:T9"}} },
			chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, false, "not allowed"},
		{"chat restriction met", func(p *chatops.Policy) {
			p.Backup = chatops.Rule{Anyone: true, Chats: []string{"slack:" + chatopstest.Chat}}
		}, chatopstest.Message{Text: "backup cdb-c1nl9rpv"}, true, "queued"},
		{"status closed by default, as backup is", nil, chatopstest.Message{Text: "status cdb-c1nl9rpv"}, false, "not allowed"},
		{"status follows the backup allowlist", func(p *chatops.Policy) { p.Backup.Users = []string{"slack:" + chatopstest.User} },
			chatopstest.Message{Text: "status cdb-c1nl9rpv"}, false, "2 jobs running"},
		{"status follows backup for anyone", func(p *chatops.Policy) { p.Backup.Anyone = true },
			chatopstest.Message{Text: "status"}, false, "2 jobs running"},
		{"status opened on its own", func(p *chatops.Policy) { p.Status.Anyone = true },
			chatopstest.Message{Text: "status"}, false, "2 jobs running"},
		{"status restricted", func(p *chatops.Policy) { p.Status.Users = []string{"slack:alice"} },
			chatopstest.Message{Text: "status"}, false, "not allowed"},
		{"dead closed by default", nil, chatopstest.Message{Text: "dead"}, false, "not allowed"},
		{"dead for the backup allowlist", func(p *chatops.Policy) { p.Backup.Users = []string{"slack:" + chatopstest.User} },
			chatopstest.Message{Text: "dead"}, false, "1 dead letter"},
		{"dead not opened by status", func(p *chatops.Policy) { p.Status.Anyone = true },
			chatopstest.Message{Text: "dead"}, false, "not allowed"},
		{"retention closed by default", nil, chatopstest.Message{Text: "retention cdb-c1nl9rpv"}, false, "not allowed"},
		{"retention for the backup allowlist", func(p *chatops.Policy) { p.Backup.Users = []string{"slack:" + chatopstest.User} },
			chatopstest.Message{Text: "retention cdb-c1nl9rpv"}, false, "2 of 5 backups would be deleted"},
		{"retention not opened by status", func(p *chatops.Policy) { p.Status.Anyone = true },
			chatopstest.Message{Text: "retention cdb-c1nl9rpv"}, false, "not allowed"},
		{"retention outside the instance patterns", func(p *chatops.Policy) { p.Backup.Anyone = true },
			chatopstest.Message{Text: "retention mssql-abcd1234"}, false, "not allowed"},
		{"plan closed by default", nil, chatopstest.Message{Text: "plan"}, false, "not allowed"},
		{"plan for the backup allowlist", func(p *chatops.Policy) { p.Backup.Users = []string{"slack:" + chatopstest.User} },
			chatopstest.Message{Text: "plan"}, false, "3 backups"},
		{"plan not opened by status", func(p *chatops.Policy) { p.Status.Anyone = true },
			chatopstest.Message{Text: "plan"}, false, "not allowed"},
		{"import denied by default", nil, chatopstest.Message{Text: "import cos://b-1/k.bak to cdb-c1nl9rpv"}, false, "not allowed"},
		{"import user must confirm", func(p *chatops.Policy) { p.Import.Users = []string{"slack:" + chatopstest.User} },
			chatopstest.Message{Text: "import cos://b-1/k.bak to cdb-c1nl9rpv"}, false, "confirm [A-Z2-7]{6}"},
		{"import without confirmation", func(p *chatops.Policy) { p.ImportUsers = []string{"slack:" + chatopstest.User} },
			chatopstest.Message{Text: "import cos://b-1/k.bak to cdb-c1nl9rpv"}, true, "queued"},
		{"direct importer still bound by chats", func(p *chatops.Policy) {
			p.ImportUsers = []string{"slack:" + chatopstest.User}
			p.Import.Chats = []string{"slack:Cprod"}
		}, chatopstest.Message{Text: "import cos://b-1/k.bak to cdb-c1nl9rpv"}, false, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			if tt.policy != nil {
				tt.policy(&cfg.Policy)
			}
			f := newFixture(t, cfg, now)
			text := slackText(t, f, tt.msg)
			if got := len(f.jobs.enqueued()) == 1; got != tt.queued {
				t.Errorf("queued = %v; want %v (reply %q)", got, tt.queued, text)
			}
			if !regexp.MustCompile(tt.replyRE).MatchString(text) {
				t.Errorf("reply = %q; want it to match %q", text, tt.replyRE)
			}
			if !strings.Contains(f.logs.String(), `"decision"`) {
				t.Errorf("no decision logged")
			}
		})
	}
}

func TestNew_rejectsWeakConfig(t *testing.T) {
	deps := chatops.Deps{Jobs: &fakeJobs{}, Store: brokenStore{}, Now: time.Now}
	tests := []struct {
		name string
		edit func(*chatops.Config, *chatops.Deps)
	}{
		{"import for anyone", func(c *chatops.Config, _ *chatops.Deps) { c.Policy.Import.Anyone = true }},
		{"bad pattern", func(c *chatops.Config, _ *chatops.Deps) { c.Policy.Instances = []string{"cdb-["} }},
		{"dingtalk without robot code", func(c *chatops.Config, _ *chatops.Deps) { c.DingTalk.RobotCode = "" }},
		{"dingtalk without senders", func(c *chatops.Config, _ *chatops.Deps) { c.DingTalk.Senders = nil }},
		{"feishu without token", func(c *chatops.Config, _ *chatops.Deps) { c.Feishu.VerificationToken = "" }},
		{"wecom app without corp", func(c *chatops.Config, _ *chatops.Deps) { c.WeCom.CorpID = "" }},
		{"wecom short key", func(c *chatops.Config, _ *chatops.Deps) { c.WeCom.Robot.EncodingAESKey = "short" }},
		{"no store", func(_ *chatops.Config, d *chatops.Deps) { d.Store = nil }},
		{"no clock", func(_ *chatops.Config, d *chatops.Deps) { d.Now = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d := chatopstest.Config(), deps
			tt.edit(&c, &d)
			if _, err := chatops.New(c, d); err == nil {
				t.Errorf("New succeeded; want an error")
			}
		})
	}
}

var codeRE = regexp.MustCompile("confirm ([A-Z2-7]{6})")

func TestHandler_importConfirmFlow(t *testing.T) {
	setup := func(t *testing.T) (*fixture, string) {
		f := newFixture(t, chatopstest.Config(), now) // tester may import after confirming
		prompt := slackText(t, f, chatopstest.Message{ID: "imp-1", Text: "import cos://bak-1250000000/orders.bak to mssql-abcd1234"})
		m := codeRE.FindStringSubmatch(prompt)
		if m == nil {
			t.Fatalf("prompt %q carries no code", prompt)
		}
		if n := len(f.jobs.enqueued()); n != 0 {
			t.Fatalf("enqueued %d before confirmation; want 0", n)
		}
		return f, m[1]
	}
	t.Run("same user confirms", func(t *testing.T) {
		f, code := setup(t)
		f.clock.Advance(4 * time.Minute)
		ack := slackText(t, f, chatopstest.Message{ID: "conf-1", Text: "confirm " + strings.ToLower(code)})
		got := f.jobs.enqueued()
		if len(got) != 1 || got[0].Op != "import" || got[0].Object != "cos://bak-1250000000/orders.bak" ||
			got[0].Instance != "mssql-abcd1234" || got[0].Origin.MessageID != "imp-1" {
			t.Fatalf("enqueued %+v; want the import of imp-1", got)
		}
		if !strings.Contains(ack, "queued as job "+got[0].ID) {
			t.Errorf("ack = %q", ack)
		}
		// Confirming again (a new message, or a resend) starts nothing new.
		again := slackText(t, f, chatopstest.Message{ID: "conf-2", Text: "confirm " + code})
		if len(f.jobs.enqueued()) != 1 || again != ack {
			t.Errorf("second confirm: %d enqueued, %q; want 1, %q", len(f.jobs.enqueued()), again, ack)
		}
	})
	t.Run("resent import message gets the same code", func(t *testing.T) {
		f, code := setup(t)
		prompt := slackText(t, f, chatopstest.Message{ID: "imp-1", Text: "import cos://bak-1250000000/orders.bak to mssql-abcd1234"})
		if m := codeRE.FindStringSubmatch(prompt); m == nil || m[1] != code {
			t.Errorf("resend prompt = %q; want code %s", prompt, code)
		}
	})
	t.Run("another user cannot confirm", func(t *testing.T) {
		cfg := chatopstest.Config()
		cfg.Policy.Import.Users = append(cfg.Policy.Import.Users, "slack:mallory")
		f := newFixture(t, cfg, now)
		prompt := slackText(t, f, chatopstest.Message{ID: "imp-1", Text: "import cos://bak-1250000000/orders.bak to mssql-abcd1234"})
		code := codeRE.FindStringSubmatch(prompt)[1]
		reply := slackText(t, f, chatopstest.Message{ID: "conf-1", User: "mallory", Text: "confirm " + code})
		if len(f.jobs.enqueued()) != 0 || !strings.Contains(reply, "No import is waiting") {
			t.Errorf("mallory's confirm: %d enqueued, %q; want 0", len(f.jobs.enqueued()), reply)
		}
	})
	t.Run("too late", func(t *testing.T) {
		f, code := setup(t)
		f.clock.Advance(5*time.Minute + time.Second)
		reply := slackText(t, f, chatopstest.Message{ID: "conf-1", Text: "confirm " + code})
		if len(f.jobs.enqueued()) != 0 || !strings.Contains(reply, "No import is waiting") {
			t.Errorf("late confirm: %d enqueued, %q; want 0", len(f.jobs.enqueued()), reply)
		}
	})
	t.Run("wrong code", func(t *testing.T) {
		f, _ := setup(t)
		reply := slackText(t, f, chatopstest.Message{ID: "conf-1", Text: "confirm AAAAAA"})
		if len(f.jobs.enqueued()) != 0 || !strings.Contains(reply, "No import is waiting") {
			t.Errorf("wrong code: %d enqueued, %q", len(f.jobs.enqueued()), reply)
		}
	})
	t.Run("confirm on another platform", func(t *testing.T) {
		f, code := setup(t)
		f.serve(chatopstest.Hook(chatopstest.Message{ID: "conf-1", Text: "confirm " + code}, now))
		if n := len(f.jobs.enqueued()); n != 0 {
			t.Errorf("enqueued %d; want 0", n)
		}
	})
}
