package chatops

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
)

type handler struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	route map[string]func(w http.ResponseWriter, r *http.Request, body []byte)

	confirmKey []byte
	wecomApp   []byte // AES keys, decoded once
	wecomRobot []byte
	feishuKey  []byte
}

// New returns the chat-command handler. It routes on the last path segment
// (/slack, /wecom, /dingtalk, /feishu, /hook), so a gateway stage prefix such
// as /prod/slack works too. It fails when a dependency is missing or the
// config is incomplete in a way that would weaken a check.
func New(cfg Config, deps Deps) (http.Handler, error) {
	if deps.Jobs == nil || deps.Store == nil || deps.Now == nil {
		return nil, errors.New("chatops: new: Deps.Jobs, Deps.Store and Deps.Now are required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.AckBudget <= 0 {
		cfg.AckBudget = DefaultAckBudget
	}
	if cfg.Policy.Status.zero() {
		// Status names instances, job ids and cloud errors: by default it is
		// open to whoever may run backups, not to everyone in the workspace.
		cfg.Policy.Status = cfg.Policy.Backup
	}
	if cfg.Policy.Import.Anyone {
		return nil, errors.New("chatops: new: Policy.Import.Anyone is not allowed: imports overwrite data")
	}
	for _, p := range cfg.Policy.Instances {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("chatops: new: instance pattern %q: %w", p, err)
		}
	}
	h := &handler{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now,
		route: make(map[string]func(http.ResponseWriter, *http.Request, []byte))}
	if h.log == nil {
		h.log = slog.Default()
	}
	if err := h.enable(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *handler) enable() error {
	c := h.cfg
	if c.Slack.SigningSecret.IsSet() {
		h.route["slack"] = h.slack
	}
	if c.WeCom.App.set() || c.WeCom.Robot.set() {
		var err error
		if c.WeCom.App.set() {
			if c.WeCom.CorpID == "" {
				return errors.New("chatops: new: wecom app needs CorpID (its receiveid)")
			}
			if h.wecomApp, err = WeComKey(c.WeCom.App.EncodingAESKey.Reveal()); err != nil {
				return fmt.Errorf("chatops: new: wecom app: %w", err)
			}
		}
		if c.WeCom.Robot.set() {
			if h.wecomRobot, err = WeComKey(c.WeCom.Robot.EncodingAESKey.Reveal()); err != nil {
				return fmt.Errorf("chatops: new: wecom robot: %w", err)
			}
		}
		h.route["wecom"] = h.wecom
	}
	if c.DingTalk.AppSecret.IsSet() {
		if c.DingTalk.RobotCode == "" || len(c.DingTalk.Senders) == 0 {
			return errors.New("chatops: new: dingtalk needs RobotCode and Senders: its sign does not cover the body")
		}
		h.route["dingtalk"] = h.dingtalk
	}
	if c.Feishu.EncryptKey.IsSet() || c.Feishu.VerificationToken.IsSet() {
		if !c.Feishu.EncryptKey.IsSet() || !c.Feishu.VerificationToken.IsSet() {
			return errors.New("chatops: new: feishu needs both EncryptKey and VerificationToken")
		}
		h.feishuKey = FeishuKey(c.Feishu.EncryptKey.Reveal())
		h.route["feishu"] = h.feishu
	}
	if c.Hook.Secret.IsSet() {
		h.route["hook"] = h.hook
	}
	// Confirmation codes are derived, not stored as randomness, so every
	// instance and every platform resend computes the same code for the same
	// import. The key mixes all configured secrets with a domain label so a
	// code reveals nothing usable against any verifier.
	k := sha256.New()
	k.Write([]byte("backupflow/chatops/confirm/v1"))
	for _, s := range []string{
		c.Slack.SigningSecret.Reveal(), c.WeCom.App.Token.Reveal(), c.WeCom.App.EncodingAESKey.Reveal(),
		c.WeCom.Robot.Token.Reveal(), c.WeCom.Robot.EncodingAESKey.Reveal(), c.DingTalk.AppSecret.Reveal(),
		c.Feishu.EncryptKey.Reveal(), c.Feishu.VerificationToken.Reveal(), c.Hook.Secret.Reveal(),
	} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		k.Write(n[:])
		k.Write([]byte(s))
	}
	h.confirmKey = k.Sum(nil)
	return nil
}

// ServeHTTP reads the body once under the size limit and hands it to the
// platform's verifier. A panic becomes a generic 500, logged.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			h.log.ErrorContext(r.Context(), "chatops: panic while handling request",
				"path", r.URL.Path, "panic", fmt.Sprint(v))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	name := path.Base(strings.TrimSuffix(r.URL.Path, "/"))
	serve, ok := h.route[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.log.WarnContext(r.Context(), "chatops: body over limit", "platform", name, "limit", h.cfg.MaxBodyBytes)
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
	}
	serve(w, r, body)
}

// reject answers a verification failure: 401, no side effect, one log line
// with the reason (never the header values or the body).
func (h *handler) reject(w http.ResponseWriter, r *http.Request, platform string, err error) {
	h.log.WarnContext(r.Context(), "chatops: rejected unverified request",
		"platform", platform, "reason", err.Error(), "remote", r.RemoteAddr)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain strings go in; this cannot happen, but never 500 on it.
		b = []byte(`{}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// requestID is deterministic from the platform and its message id and fits
// every cloud's backup-name rules (leading letter, [a-z0-9-], ≤ 64 chars).
func requestID(platform, messageID string) string {
	sum := sha256.Sum256([]byte(platform + "\x00" + messageID))
	return platform + "-" + hex.EncodeToString(sum[:8])
}

// inbound is a verified command, whatever platform it came from.
type inbound struct {
	origin Origin
	text   string
}
