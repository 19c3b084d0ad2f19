package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/secret"
)

// ChatConfig is the chatops function's own settings, read by the one loader
// (config.ProcessFrom: empty means unset). Each platform is on only when its
// secrets are set.
type ChatConfig struct {
	SlackSigningSecret    secret.String `env:"BACKUPFLOW_SLACK_SIGNING_SECRET"`
	WeComToken            secret.String `env:"BACKUPFLOW_WECOM_TOKEN"`
	WeComAESKey           secret.String `env:"BACKUPFLOW_WECOM_AES_KEY"`
	WeComCorpID           string        `env:"BACKUPFLOW_WECOM_CORP_ID"`
	WeComRobotToken       secret.String `env:"BACKUPFLOW_WECOM_ROBOT_TOKEN"`
	WeComRobotAESKey      secret.String `env:"BACKUPFLOW_WECOM_ROBOT_AES_KEY"`
	DingTalkAppSecret     secret.String `env:"BACKUPFLOW_DINGTALK_APP_SECRET"`
	DingTalkRobotCode     string        `env:"BACKUPFLOW_DINGTALK_ROBOT_CODE"`
	DingTalkCorpID        string        `env:"BACKUPFLOW_DINGTALK_CORP_ID"`
	DingTalkSenders       []string      `env:"BACKUPFLOW_DINGTALK_SENDERS"`
	FeishuEncryptKey      secret.String `env:"BACKUPFLOW_FEISHU_ENCRYPT_KEY"`
	FeishuVerificationTok secret.String `env:"BACKUPFLOW_FEISHU_VERIFICATION_TOKEN"`
	FeishuAppID           string        `env:"BACKUPFLOW_FEISHU_APP_ID"`
	HookSecret            secret.String `env:"BACKUPFLOW_HOOK_SECRET"`
	StatusUsers           []string      `env:"BACKUPFLOW_CHAT_STATUS_USERS"`
	BackupUsers           []string      `env:"BACKUPFLOW_CHAT_BACKUP_USERS"`
	BackupAnyone          bool          `env:"BACKUPFLOW_CHAT_BACKUP_ANYONE"`
	ImportUsers           []string      `env:"BACKUPFLOW_CHAT_IMPORT_USERS"`
	ImportNoConfirmUsers  []string      `env:"BACKUPFLOW_CHAT_IMPORT_NOCONFIRM_USERS"`
	Teams                 []string      `env:"BACKUPFLOW_CHAT_TEAMS"`
	Chats                 []string      `env:"BACKUPFLOW_CHAT_CHATS"`
	Instances             []string      `env:"BACKUPFLOW_CHAT_INSTANCES" default:"*"`
	MaxBodyBytes          int64         `env:"BACKUPFLOW_CHAT_MAX_BODY" default:"65536"`
}

// Chatops converts ChatConfig to the handler's config.
func (c ChatConfig) Chatops() chatops.Config {
	cfg := chatops.Config{MaxBodyBytes: c.MaxBodyBytes}
	cfg.Slack.SigningSecret = c.SlackSigningSecret
	cfg.WeCom.App = chatops.WeComKeys{Token: c.WeComToken, EncodingAESKey: c.WeComAESKey}
	cfg.WeCom.Robot = chatops.WeComKeys{Token: c.WeComRobotToken, EncodingAESKey: c.WeComRobotAESKey}
	cfg.WeCom.CorpID = c.WeComCorpID
	cfg.DingTalk = chatops.DingTalkConfig{AppSecret: c.DingTalkAppSecret, RobotCode: c.DingTalkRobotCode,
		CorpID: c.DingTalkCorpID, Senders: c.DingTalkSenders}
	cfg.Feishu = chatops.FeishuConfig{EncryptKey: c.FeishuEncryptKey, VerificationToken: c.FeishuVerificationTok, AppID: c.FeishuAppID}
	cfg.Hook.Secret = c.HookSecret
	rule := func(users []string) chatops.Rule {
		return chatops.Rule{Users: users, Teams: c.Teams, Chats: c.Chats}
	}
	cfg.Policy = chatops.Policy{Status: rule(c.StatusUsers), Backup: rule(c.BackupUsers), Import: rule(c.ImportUsers),
		ImportUsers: c.ImportNoConfirmUsers, Instances: c.Instances}
	if len(c.StatusUsers) == 0 {
		cfg.Policy.Status.Anyone = true
	}
	cfg.Policy.Backup.Anyone = c.BackupAnyone
	return cfg
}

// LoadChatConfig reads the chat settings through getenv.
func LoadChatConfig(getenv func(string) string) (ChatConfig, error) {
	var cc ChatConfig
	if err := config.ProcessFrom(getenv, &cc); err != nil {
		return cc, fmt.Errorf("config: %w", err)
	}
	return cc, nil
}

// ChatHandler wires the chatops handler from the process environment (a web
// function gets its environment at start).
func ChatHandler(ctx context.Context) (http.Handler, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	cc, err := LoadChatConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	a, err := Open(ctx, cfg, Options{Function: "chatops"})
	if err != nil {
		return nil, err
	}
	return a.Chat(cc.Chatops(), nil)
}

// Chat returns the chatops handler over this App's flows and ledger.
func (a *App) Chat(cfg chatops.Config, replies chatops.Replier) (http.Handler, error) {
	return chatops.New(cfg, chatops.Deps{Jobs: &chatJobs{svc: a.Service}, Store: &ledgerStore{l: a.Ledger, now: a.Now},
		Replies: replies, Logger: a.Log, Now: a.Now})
}

// chatJobs adapts the flow service to the chat handler's port.
type chatJobs struct{ svc *flow.Service }

func (j *chatJobs) Enqueue(ctx context.Context, r chatops.Request) (string, error) {
	return j.svc.Enqueue(ctx, flow.Request{JobID: r.ID, Op: provider.Op(r.Op), Instance: r.Instance, Method: r.Method,
		Object: r.Object, Origin: job.Origin{Source: "chat", Platform: r.Origin.Platform, User: r.Origin.User,
			Chat: r.Origin.Chat, Thread: r.Origin.Thread, MessageID: r.Origin.MessageID}})
}

func (j *chatJobs) Status(ctx context.Context, query string) (string, error) {
	return StatusText(ctx, j.svc, query)
}

// StatusText renders a job's state (or, for an instance id or "", a hint)
// in one short line for chat and the CLI.
func StatusText(ctx context.Context, svc *flow.Service, query string) (string, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return "Send `status <job-id>` for one job; job ids are in every acknowledgement and notification.", nil
	}
	if _, ok := provider.ProductOf(query); ok {
		jobs, err := svc.InstanceJobs(ctx, query, 3)
		if err != nil {
			return "", err
		}
		if len(jobs) == 0 {
			return "No jobs recorded for " + query + ".", nil
		}
		var lines []string
		for _, j := range jobs {
			line, err := StatusText(ctx, svc, j.JobID)
			if err != nil {
				return "", err
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n"), nil
	}
	st, out, err := svc.State(ctx, query)
	if errors.Is(err, flow.ErrUnknownJob) {
		return "No job " + query + " is known.", nil
	}
	if err != nil {
		return "", err
	}
	if out != nil {
		s := fmt.Sprintf("Job %s (%s %s): %s after %s", out.JobID, out.Op, out.Instance, out.Result, out.Duration().Round(time.Second))
		if out.Code != "" {
			s += " — " + out.Code + ": " + out.Message
		}
		return s, nil
	}
	return fmt.Sprintf("Job %s (%s %s): %s, %d status checks so far, last update %s", st.JobID, st.Spec.Op, st.Spec.InstanceID,
		st.State, st.Polls, st.Updated.UTC().Format(time.RFC3339)), nil
}

// ledgerStore backs the chat handler's replay guard and pending
// confirmations with the ledger; expiry travels in the value because the
// object-store ledgers keep no TTL.
type ledgerStore struct {
	l   *ledger.Ledger
	now func() time.Time
}

type stored struct {
	Expires time.Time `json:"exp"`
	Value   []byte    `json:"v,omitempty"`
}

func (s *ledgerStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	b, _ := json.Marshal(stored{Expires: s.now().Add(ttl)})
	ok, err := s.l.Claim(ctx, "chat/"+key, b)
	if err != nil || ok {
		return ok, err
	}
	// An expired claim may be taken again.
	if _, found, err := s.Get(ctx, key); err != nil || found {
		return false, err
	}
	return true, s.l.Put(ctx, "chat/"+key, b)
}

func (s *ledgerStore) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	b, _ := json.Marshal(stored{Expires: s.now().Add(ttl), Value: val})
	return s.l.Put(ctx, "chat/"+key, b)
}

func (s *ledgerStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, ok, err := s.l.Get(ctx, "chat/"+key)
	if err != nil || !ok {
		return nil, false, err
	}
	var v stored
	if json.Unmarshal(b, &v) != nil || !s.now().Before(v.Expires) {
		return nil, false, nil
	}
	return v.Value, true, nil
}
