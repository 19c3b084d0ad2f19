package chatops

import (
	"encoding/json"
	"net/http"
)

// hookMessage is the body in-house tools post to /hook.
type hookMessage struct {
	Text     string `json:"text"`
	User     string `json:"user"`
	Team     string `json:"team,omitempty"`
	Chat     string `json:"chat,omitempty"`
	ReplyURL string `json:"reply_url,omitempty"`
}

type hookReply struct {
	Text string `json:"text"`
}

// hook serves the generic HMAC endpoint; see VerifyHook for the scheme.
func (h *handler) hook(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if err := VerifyHook(r.Header, body, h.cfg.Hook.Secret.Reveal(), h.now()); err != nil {
		h.reject(w, r, "hook", err)
		return
	}
	var m hookMessage
	if err := json.Unmarshal(body, &m); err != nil {
		writeJSON(w, hookReply{Text: `Sorry, the body must be JSON like {"text":"backup cdb-…","user":"alice"}.`})
		return
	}
	in := inbound{
		origin: Origin{
			Platform:  "hook",
			User:      m.User,
			Team:      m.Team,
			Chat:      m.Chat,
			MessageID: r.Header.Get(HeaderHookDelivery),
			ReplyURL:  m.ReplyURL,
		},
		text: m.Text,
	}
	writeJSON(w, hookReply{Text: h.run(r.Context(), in)})
}
