// Package chatemu emulates the chat platforms' reply handles: the URLs a
// command arrives with (Slack response_url, DingTalk sessionWebhook, WeCom
// smart robot response_url) to which the job's result is posted. It records
// what each conversation received, so tests read what arrived where.
package chatemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Paths of the handles, as the platforms issue them (the host is moved
// onto the emulator; path and query are kept).
const (
	SlackPath    = "/commands/"
	DingTalkPath = "/robot/sendBySession"
	WeComPath    = "/cgi-bin/aibot/response"
)

// Uses a handle takes before it is refused: Slack 5, WeCom 1
// (facts/chatops.md §2.3, §3.3); DingTalk states none.
var uses = map[string]int{"slack": 5, "wecom": 1}

// Post is one message a conversation received.
type Post struct {
	Platform string
	Handle   string // path and query of the handle posted to
	// ResponseType is Slack's (in_channel or ephemeral); empty elsewhere.
	ResponseType string
	// Text is what people see: Slack's fallback text and blocks, the
	// markdown of DingTalk and WeCom.
	Text string
	Body string
}

// Server serves the reply handles.
type Server struct {
	mu    sync.Mutex
	posts []Post
	used  map[string]int
}

// New returns an empty server.
func New() *Server { return &Server{used: map[string]int{}} }

// Match reports whether r is addressed to a reply handle.
func Match(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, SlackPath) || r.URL.Path == DingTalkPath || r.URL.Path == WeComPath
}

// Posts returns what arrived, in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// To returns what arrived at one handle (its path and query, e.g.
// "/commands/T0/1/msg-1").
func (s *Server) To(handle string) []Post {
	var out []Post
	for _, p := range s.Posts() {
		if p.Handle == handle {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	platform := "slack"
	switch r.URL.Path {
	case DingTalkPath:
		platform = "dingtalk"
	case WeComPath:
		platform = "wecom"
	}
	handle := r.URL.RequestURI()
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in struct {
		MsgType      string `json:"msgtype"`
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
		Blocks       []struct {
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
		Markdown struct {
			Text    string `json:"text"`
			Content string `json:"content"`
		} `json:"markdown"`
	}
	if r.Method != http.MethodPost || err != nil || json.Unmarshal(b, &in) != nil {
		s.refuse(w, platform, http.StatusBadRequest, "invalid_payload")
		return
	}
	s.mu.Lock()
	n, limit := s.used[handle], uses[platform]
	if limit > 0 && n >= limit {
		s.mu.Unlock()
		s.refuse(w, platform, http.StatusNotFound, "used_url")
		return
	}
	s.used[handle] = n + 1
	p := Post{Platform: platform, Handle: handle, ResponseType: in.ResponseType, Body: string(b)}
	switch platform {
	case "slack":
		parts := []string{in.Text}
		for _, bl := range in.Blocks {
			if bl.Text != nil {
				parts = append(parts, bl.Text.Text)
			}
			for _, f := range append(bl.Fields, bl.Elements...) {
				parts = append(parts, f.Text)
			}
		}
		p.Text = strings.Join(parts, "\n")
	case "dingtalk":
		p.Text = in.Markdown.Text
	case "wecom":
		p.Text = in.Markdown.Content
	}
	s.posts = append(s.posts, p)
	s.mu.Unlock()
	if platform == "slack" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
}

// refuse answers the way each platform's family does: Slack with a status
// and a short code, DingTalk and WeCom with HTTP 200 and a non-zero errcode
// (the emulator's own code; the vendors' exact one is not known here).
func (s *Server) refuse(w http.ResponseWriter, platform string, status int, code string) {
	if platform == "slack" {
		http.Error(w, code, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 93000 + status, "errmsg": "chat emulator: " + code})
}
