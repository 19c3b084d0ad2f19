package chatapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/reportlink"
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
	// An empty BACKUPFLOW_CHAT_STATUS_USERS leaves Status zero, which
	// chatops.New reads as "whoever may run backup": status names instances,
	// job ids and cloud errors, so it is never open to a whole workspace by
	// default.
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

// Handler is the deployed chatops function: its configuration and chat
// settings come from the process environment (a web function gets its
// environment at start). The function table names it (app.Functions,
// entry "chatops"); it lives here so that the event functions, which link
// pkg/app, never link the chat code.
func Handler(ctx context.Context) (http.Handler, error) {
	if _, ok := app.Lookup(app.Chatops); !ok {
		return nil, fmt.Errorf("the function table has no %s entry", app.Chatops)
	}
	cc, err := LoadChatConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	a, err := app.FromEnv(ctx, app.Chatops)
	if err != nil {
		return nil, err
	}
	return New(a, cc.Chatops(), nil)
}

// New is the one constructor of the chat handler over a's flows, ledger and
// reply channels; the deployed function, the local stack, invoke and the
// tests all call it. now, when set, replaces a's clock for verification and
// expiry (replaying a recorded sample at its own time).
func New(a *app.App, cfg chatops.Config, now func() time.Time) (http.Handler, error) {
	if now == nil {
		now = a.Now
	}
	rep, err := Replier(a)
	if err != nil {
		return nil, err
	}
	chat, err := chatops.New(cfg, chatops.Deps{Jobs: &chatJobs{svc: a.Service, now: a.Now}, Store: Store(a, now),
		Replies: rep, Logger: a.Log, Now: now})
	if err != nil || !a.Cfg.ReportSecret.IsSet() {
		return chat, err
	}
	// With the report secret set, .../report serves the pages the
	// nightly summary links, to whoever holds a link that is signed and
	// not expired; every other path is a chat platform's.
	secret, page := []byte(a.Cfg.ReportSecret.Reveal()), ReportPage(a.Service, a.Log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Base(strings.TrimSuffix(r.URL.Path, "/")) != "report" {
			chat.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		if _, err := reportlink.Check(secret, q, now()); err != nil {
			a.Log.WarnContext(r.Context(), "report link refused", "run", clipRun(q.Get("run")), "reason", "unsigned, tampered with or expired")
			http.Error(w, "report: this link is not valid (it was changed, or it expired); the next nightly summary has a fresh one", http.StatusForbidden)
			return
		}
		page.ServeHTTP(w, r)
	}), nil
}

// clipRun keeps a refused link's run name short in the log.
func clipRun(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// Store is the chat handler's replay guard and pending confirmations, kept
// in a's ledger under chat/, on the clock now: the deployed Store, which the
// handler's tests use too.
func Store(a *app.App, now func() time.Time) chatops.Store {
	return &ledgerStore{l: a.Ledger, now: now}
}

// Replier is the one place that decides how a text answer reaches a
// conversation whose platform cannot carry it in its HTTP answer (Feishu
// events): as a reply to the command's message through Feishu's IM API when
// the app's id and secret are set (BACKUPFLOW_FEISHU_APP_ID,
// BACKUPFLOW_FEISHU_APP_SECRET), else through the App's reply channel for
// the platform (BACKUPFLOW_REPLY_<PLATFORM>). Nil when there is neither.
func Replier(a *app.App) (chatops.Replier, error) {
	getenv := a.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var fs feishu.Settings
	if err := config.ProcessFrom(getenv, &fs); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	r := replier{a: a}
	if fs.Enabled() {
		r.feishu = feishu.New(fs, nil, a.Now)
	}
	if r.feishu == nil && !a.HasReplies() {
		return nil, nil
	}
	return r, nil
}

type replier struct {
	a      *app.App
	feishu *feishu.Client
}

func (r replier) Reply(ctx context.Context, o chatops.Origin, text string) error {
	if o.Platform == "feishu" && r.feishu != nil && o.Thread != "" {
		err := r.feishu.Reply(ctx, o.Thread, text)
		if err == nil {
			return nil
		}
		// Refused (a revoked secret, a deleted message): the static bot,
		// when there is one, still reaches the team's chat.
		if serr := r.a.Reply(ctx, o.Platform, o.User, text); serr != nil {
			return errors.Join(err, serr)
		}
		r.a.Log.WarnContext(ctx, "chat answer sent through the static reply channel; the Feishu reply API refused it", "err", err.Error())
		return nil
	}
	return r.a.Reply(ctx, o.Platform, o.User, text)
}

// chatJobs adapts the flow service to the chat handler's port.
type chatJobs struct {
	svc *flow.Service
	now func() time.Time
}

// The handler answers `dead`, `retention` and `plan` only through these
// optional ports.
var (
	_ chatops.DeadLetters      = (*chatJobs)(nil)
	_ chatops.RetentionPreview = (*chatJobs)(nil)
	_ chatops.Planner          = (*chatJobs)(nil)
)

// PlanText is the short form of the plan of a full nightly run now: the
// targets and skips the run would have, from the same resolve.
func (j *chatJobs) PlanText(ctx context.Context) (string, error) {
	p, err := j.svc.Plan(ctx, j.now(), flow.Selection{})
	if err != nil {
		return "", err
	}
	return p.Short(), nil
}

func (j *chatJobs) Enqueue(ctx context.Context, r chatops.Request) (string, error) {
	if r.Origin.ReplyExpires.IsZero() {
		// A handle with no known lifetime (the generic hook's reply_url) is
		// never posted to, so it is not carried either.
		r.Origin.ReplyURL = ""
	}
	return j.svc.Enqueue(ctx, flow.Request{JobID: r.ID, Op: provider.Op(r.Op), Instance: r.Instance, Method: r.Method,
		Object: r.Object, Origin: job.Origin{Source: "chat", Platform: r.Origin.Platform, User: r.Origin.User,
			Chat: r.Origin.Chat, Thread: r.Origin.Thread, MessageID: r.Origin.MessageID,
			Reply: r.Origin.ReplyURL, ReplyExpires: r.Origin.ReplyExpires}})
}

func (j *chatJobs) Status(ctx context.Context, query string) (string, error) {
	return j.svc.StatusText(ctx, query)
}

func (j *chatJobs) DeadText(ctx context.Context) (string, error) {
	return j.svc.DeadText(ctx, 5)
}

func (j *chatJobs) RetentionText(ctx context.Context, instance string) (string, error) {
	return j.svc.RetentionText(ctx, instance, 10)
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
