// Package wecom sends messages as a WeCom self-built app through the app
// message API (message/send), with the access token from gettoken (corp id
// and the app's secret) cached until it expires. It is how a result reaches
// the user who asked through the app, after the callback's passive reply.
package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tokencache"
)

// Settings are the app's credentials, read by the one config loader. The
// client is enabled only when corp id, secret and agent id are all set.
type Settings struct {
	CorpID string `env:"BACKUPFLOW_WECOM_CORP_ID"`
	// Secret is the self-built app's Secret (应用管理 → the app → Secret),
	// not the callback Token or EncodingAESKey.
	Secret  secret.String `env:"BACKUPFLOW_WECOM_APP_SECRET"`
	AgentID string        `env:"BACKUPFLOW_WECOM_AGENT_ID"`
	// API is the server API's base URL (the emulator serves it locally).
	API string `env:"BACKUPFLOW_WECOM_API" default:"https://qyapi.weixin.qq.com"`
}

// Enabled reports whether the settings name an app to send as.
func (s Settings) Enabled() bool { return s.CorpID != "" && s.Secret.IsSet() && s.AgentID != "" }

// Client sends app messages.
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
	c.tokens = tokencache.New(c.accessToken, now)
	return c
}

// Error is an answer with a non-zero errcode (or a non-2xx status).
type Error struct {
	Op      string
	Status  int
	ErrCode int
	ErrMsg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("wecom %s: status %d, errcode %d: %s", e.Op, e.Status, e.ErrCode, e.ErrMsg)
}

// Temporary reports whether a later try may succeed: a server error, or
// WeCom's "system busy" (-1).
func (e *Error) Temporary() bool { return e.Status >= 500 || e.ErrCode == -1 }

// Errcodes of an access token that is invalid or expired: the next call
// fetches a new one.
var tokenCodes = map[int]bool{40014: true, 42001: true}

// SendText sends text to one user of the corp as the app.
func (c *Client) SendText(ctx context.Context, user, text string) error {
	if user == "" {
		return fmt.Errorf("wecom send: no user to send to")
	}
	agent, err := strconv.Atoi(c.s.AgentID)
	if err != nil {
		return fmt.Errorf("wecom send: agent id %q is not a number", c.s.AgentID)
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return err
	}
	var in struct {
		ToUser  string `json:"touser"`
		MsgType string `json:"msgtype"`
		AgentID int    `json:"agentid"`
		Text    struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	in.ToUser, in.MsgType, in.AgentID, in.Text.Content = user, "text", agent, text
	body, _ := json.Marshal(in)
	var out errAnswer
	err = c.do(ctx, http.MethodPost, "send", "/cgi-bin/message/send?access_token="+url.QueryEscape(tok), body, &out)
	if err == nil && out.ErrCode != 0 {
		err = &Error{Op: "send", Status: http.StatusOK, ErrCode: out.ErrCode, ErrMsg: out.ErrMsg}
	}
	if e, ok := err.(*Error); ok && tokenCodes[e.ErrCode] {
		c.tokens.Refused(tok)
	}
	return err
}

type errAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// accessToken fetches an access token (gettoken) for the cache.
func (c *Client) accessToken(ctx context.Context) (string, time.Duration, error) {
	q := url.Values{"corpid": {c.s.CorpID}, "corpsecret": {c.s.Secret.Reveal()}}
	var out struct {
		errAnswer
		Token     string `json:"access_token"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := c.do(ctx, http.MethodGet, "gettoken", "/cgi-bin/gettoken?"+q.Encode(), nil, &out); err != nil {
		return "", 0, err
	}
	if out.ErrCode != 0 || out.Token == "" {
		return "", 0, &Error{Op: "gettoken", Status: http.StatusOK, ErrCode: out.ErrCode, ErrMsg: out.ErrMsg}
	}
	return out.Token, time.Duration(out.ExpiresIn) * time.Second, nil
}

// do calls the API. The URL carries the secret or the token, so a
// transport error is reported without it.
func (c *Client) do(ctx context.Context, method, op, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.s.API+path, rd)
	if err != nil {
		return fmt.Errorf("wecom %s: bad request", op)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return fmt.Errorf("wecom %s: %w", op, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e errAnswer
		_ = dec.Decode(&e)
		return &Error{Op: op, Status: resp.StatusCode, ErrCode: e.ErrCode, ErrMsg: e.ErrMsg}
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("wecom %s: answer: %w", op, err)
	}
	return nil
}
