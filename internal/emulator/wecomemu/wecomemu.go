// Package wecomemu emulates the two WeCom server API calls backupflow makes
// as a self-built app: gettoken (corp id and the app's secret) and
// message/send (the token and the app's agent id), checking both.
package wecomemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// The app the emulator knows unless told otherwise (chatopstest's corp).
const (
	DefaultCorpID  = "wwbackupflowtest01"
	DefaultSecret  = "bf-emulator-wecom-app-secret"
	DefaultAgentID = 1000002
)

// Paths served.
const (
	TokenPath = "/cgi-bin/gettoken"
	SendPath  = "/cgi-bin/message/send"
)

// Match reports whether r is addressed to this emulator.
func Match(r *http.Request) bool { return r.URL.Path == TokenPath || r.URL.Path == SendPath }

// Sent is one app message.
type Sent struct {
	ToUser  string
	AgentID int
	MsgType string
	Text    string
}

// Server serves the two calls.
type Server struct {
	now func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time
	sent   []Sent
	issued int
}

// New returns a server that knows the default app.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, tokens: map[string]time.Time{}}
}

// Sent returns the messages sent, in order.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// TokensIssued counts access tokens handed out (a client should cache them).
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// WeCom answers HTTP 200 with an errcode, whatever went wrong.
func answer(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case TokenPath:
		q := r.URL.Query()
		if q.Get("corpid") != DefaultCorpID {
			answer(w, map[string]any{"errcode": 40013, "errmsg": "invalid corpid"})
			return
		}
		if q.Get("corpsecret") != DefaultSecret {
			answer(w, map[string]any{"errcode": 40001, "errmsg": "invalid credential"})
			return
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		tok := hex.EncodeToString(b)
		s.mu.Lock()
		s.tokens[tok] = s.now().Add(2 * time.Hour)
		s.issued++
		s.mu.Unlock()
		answer(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": 7200})
	case SendPath:
		if r.Method != http.MethodPost {
			answer(w, map[string]any{"errcode": 43002, "errmsg": "require POST method"})
			return
		}
		s.mu.Lock()
		exp, ok := s.tokens[r.URL.Query().Get("access_token")]
		s.mu.Unlock()
		if !ok {
			answer(w, map[string]any{"errcode": 40014, "errmsg": "invalid access_token"})
			return
		}
		if !s.now().Before(exp) {
			answer(w, map[string]any{"errcode": 42001, "errmsg": "access_token expired"})
			return
		}
		var in struct {
			ToUser  string `json:"touser"`
			MsgType string `json:"msgtype"`
			AgentID int    `json:"agentid"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.MsgType != "text" || in.Text.Content == "" {
			answer(w, map[string]any{"errcode": 44004, "errmsg": "empty or unreadable message"})
			return
		}
		if in.AgentID != DefaultAgentID {
			answer(w, map[string]any{"errcode": 40056, "errmsg": "invalid agentid"})
			return
		}
		if in.ToUser == "" {
			answer(w, map[string]any{"errcode": 40031, "errmsg": "invalid user list"})
			return
		}
		s.mu.Lock()
		s.sent = append(s.sent, Sent{ToUser: in.ToUser, AgentID: in.AgentID, MsgType: in.MsgType, Text: in.Text.Content})
		s.mu.Unlock()
		answer(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": "emu-" + tokSuffix(len(s.Sent()))})
	default:
		http.NotFound(w, r)
	}
}

func tokSuffix(n int) string { return hex.EncodeToString([]byte{byte(n >> 8), byte(n)}) }
