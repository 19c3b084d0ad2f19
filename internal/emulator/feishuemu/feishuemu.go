// Package feishuemu emulates the two Feishu Open Platform calls backupflow
// makes: the tenant access token and the IM reply, checking credentials.
package feishuemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The app the emulator knows unless told otherwise (chatopstest's app id).
const (
	DefaultAppID     = "cli_bftest0001"
	DefaultAppSecret = "bf-emulator-feishu-app-secret"
)

// Reply is one message posted through the reply API.
type Reply struct {
	MessageID string // the message replied to
	MsgType   string
	Text      string
}

// Server serves /open-apis/.
type Server struct {
	now  func() time.Time
	apps map[string]string

	mu      sync.Mutex
	tokens  map[string]time.Time
	replies []Reply
	issued  int
}

// New returns a server that knows apps (id → secret); nil knows the default.
func New(apps map[string]string, now func() time.Time) *Server {
	if apps == nil {
		apps = map[string]string{DefaultAppID: DefaultAppSecret}
	}
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, apps: apps, tokens: map[string]time.Time{}}
}

// Replies returns what was posted, in order.
func (s *Server) Replies() []Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reply(nil), s.replies...)
}

// TokensIssued counts tenant tokens handed out (a client should cache them).
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		answer(w, http.StatusMethodNotAllowed, map[string]any{"code": 1, "msg": "method not allowed"})
		return
	}
	switch {
	case r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal":
		s.token(w, r)
	case strings.HasPrefix(r.URL.Path, "/open-apis/im/v1/messages/") && strings.HasSuffix(r.URL.Path, "/reply"):
		s.reply(w, r)
	default:
		answer(w, http.StatusNotFound, map[string]any{"code": 1, "msg": "feishu emulator: no such API"})
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AppID     string `json:"app_id"`
		AppSecret string `json:"app_secret"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		answer(w, http.StatusBadRequest, map[string]any{"code": 9499, "msg": "bad request body"})
		return
	}
	if want, ok := s.apps[in.AppID]; !ok || want != in.AppSecret {
		// Feishu answers a wrong secret with code 10014 "app secret invalid".
		answer(w, http.StatusOK, map[string]any{"code": 10014, "msg": "app secret invalid"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "t-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.now().Add(2 * time.Hour)
	s.issued++
	s.mu.Unlock()
	answer(w, http.StatusOK, map[string]any{"code": 0, "msg": "ok", "tenant_access_token": tok, "expire": 7200})
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !s.now().Before(exp) {
		answer(w, http.StatusBadRequest, map[string]any{"code": 99991663, "msg": "Invalid access token for authorization"})
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/open-apis/im/v1/messages/"), "/reply")
	var in struct {
		MsgType string `json:"msg_type"`
		Content string `json:"content"`
	}
	var content struct {
		Text string `json:"text"`
	}
	if json.NewDecoder(r.Body).Decode(&in) != nil || json.Unmarshal([]byte(in.Content), &content) != nil || in.MsgType != "text" {
		answer(w, http.StatusBadRequest, map[string]any{"code": 230001, "msg": "invalid message content"})
		return
	}
	s.mu.Lock()
	s.replies = append(s.replies, Reply{MessageID: id, MsgType: in.MsgType, Text: content.Text})
	s.mu.Unlock()
	answer(w, http.StatusOK, map[string]any{"code": 0, "msg": "success", "data": map[string]any{"message_id": "om_reply_" + id}})
}
