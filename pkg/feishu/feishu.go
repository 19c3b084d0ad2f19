// Package feishu answers in a Feishu (Lark) conversation through the Open
// Platform's IM reply API, with a tenant access token cached until it expires.
package feishu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tokencache"
)

// Settings are the app's credentials, read from the environment by the one
// config loader. The client is enabled only when both are set.
type Settings struct {
	AppID     string        `env:"BACKUPFLOW_FEISHU_APP_ID"`
	AppSecret secret.String `env:"BACKUPFLOW_FEISHU_APP_SECRET"`
	// API is the Open Platform's base URL (Lark: https://open.larksuite.com;
	// the emulator serves it locally).
	API string `env:"BACKUPFLOW_FEISHU_API" default:"https://open.feishu.cn"`
}

// Enabled reports whether the settings name an app to answer as.
func (s Settings) Enabled() bool { return s.AppID != "" && s.AppSecret.IsSet() }

// Client replies to messages as the app.
type Client struct {
	s      Settings
	http   *http.Client
	tokens *tokencache.Cache
}

// New returns a client for s; hc and now default to a 10 s client and time.Now.
func New(s Settings, hc *http.Client, now func() time.Time) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	s.API = strings.TrimSuffix(s.API, "/")
	c := &Client{s: s, http: hc}
	c.tokens = tokencache.New(c.tenantToken, now)
	return c
}

// Error is an answer with a non-zero code (or a non-2xx status).
type Error struct {
	Op     string
	Status int
	Code   int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("feishu %s: status %d, code %d: %s", e.Op, e.Status, e.Code, e.Msg)
}

// Reply posts text as a reply to messageID (the message a command came in).
func (c *Client) Reply(ctx context.Context, messageID, text string) error {
	if messageID == "" {
		return fmt.Errorf("feishu reply: no message to reply to")
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return err
	}
	content, _ := json.Marshal(map[string]string{"text": text})
	body, _ := json.Marshal(map[string]string{"msg_type": "text", "content": string(content)})
	var out struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	err = c.post(ctx, "reply", "/open-apis/im/v1/messages/"+url.PathEscape(messageID)+"/reply", tok, body, &out)
	if err == nil && out.Code != 0 {
		err = &Error{Op: "reply", Status: http.StatusOK, Code: out.Code, Msg: out.Msg}
	}
	if e, ok := err.(*Error); ok && (e.Code == 99991663 || e.Code == 99991661 || e.Status == http.StatusUnauthorized) {
		c.tokens.Refused(tok) // expired or revoked early: the next call fetches a new one
	}
	return err
}

// tenantToken fetches a tenant access token for the cache (Feishu hands
// out the same token until its last 30 minutes, so the cache's early
// refresh costs nothing).
func (c *Client) tenantToken(ctx context.Context) (string, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"app_id": c.s.AppID, "app_secret": c.s.AppSecret.Reveal()})
	var out struct {
		Code   int    `json:"code"`
		Msg    string `json:"msg"`
		Token  string `json:"tenant_access_token"`
		Expire int    `json:"expire"`
	}
	if err := c.post(ctx, "tenant token", "/open-apis/auth/v3/tenant_access_token/internal", "", body, &out); err != nil {
		return "", 0, err
	}
	if out.Code != 0 || out.Token == "" {
		return "", 0, &Error{Op: "tenant token", Status: http.StatusOK, Code: out.Code, Msg: out.Msg}
	}
	return out.Token, time.Duration(out.Expire) * time.Second, nil
}

func (c *Client) post(ctx context.Context, op, path, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.API+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("feishu %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("feishu %s: %w", op, err)
	}
	defer resp.Body.Close()
	var e struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		_ = dec.Decode(&e)
		return &Error{Op: op, Status: resp.StatusCode, Code: e.Code, Msg: e.Msg}
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("feishu %s: answer: %w", op, err)
	}
	return nil
}

// Temporary reports whether a later try may succeed: a server error or
// throttling.
func (e *Error) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Code == 11232
}
