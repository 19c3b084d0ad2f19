package chatops

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
)

// feishuEnvelope covers the decrypted body of both the url_verification
// request and a v2 event.
type feishuEnvelope struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	Token     string `json:"token"`
	Schema    string `json:"schema"`
	Header    struct {
		EventID   string `json:"event_id"`
		EventType string `json:"event_type"`
		Token     string `json:"token"`
		AppID     string `json:"app_id"`
		TenantKey string `json:"tenant_key"`
	} `json:"header"`
	Event json.RawMessage `json:"event"`
}

type feishuMessageEvent struct {
	Sender struct {
		SenderID struct {
			OpenID string `json:"open_id"`
		} `json:"sender_id"`
		TenantKey string `json:"tenant_key"`
	} `json:"sender"`
	Message struct {
		MessageID   string `json:"message_id"`
		ChatID      string `json:"chat_id"`
		MessageType string `json:"message_type"`
		Content     string `json:"content"`
	} `json:"message"`
}

// feishu serves event subscriptions with an Encrypt Key: the signature over
// the raw body first, then decryption, then the Verification Token. The
// url_verification request is the one exception to the signature (Feishu's
// own SDK does not check it there): decrypting with our key and carrying the
// token is its proof, and it causes nothing but the echoed challenge.
func (h *handler) feishu(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	c := h.cfg.Feishu
	signed := r.Header.Get(HeaderFeishuSignature) != ""
	if signed {
		if err := VerifyFeishu(r.Header, body, c.EncryptKey.Reveal(), h.now()); err != nil {
			h.reject(w, r, "feishu", err)
			return
		}
	}
	var outer struct {
		Encrypt string `json:"encrypt"`
	}
	if err := json.Unmarshal(body, &outer); err != nil || outer.Encrypt == "" {
		h.reject(w, r, "feishu", errors.Join(ErrUnsigned, errors.New("body is not encrypted")))
		return
	}
	plain, err := decryptFeishu(h.feishuKey, outer.Encrypt)
	if err != nil {
		h.reject(w, r, "feishu", err)
		return
	}
	var env feishuEnvelope
	if err := json.Unmarshal(plain, &env); err != nil {
		h.reject(w, r, "feishu", errors.Join(ErrDecrypt, errors.New("decrypted body is not JSON")))
		return
	}
	token := c.VerificationToken.Reveal()
	if env.Type == "url_verification" {
		if !equalString(env.Token, token) {
			h.reject(w, r, "feishu", errors.Join(ErrSignature, errors.New("verification token does not match")))
			return
		}
		h.log.InfoContext(r.Context(), "chatops: feishu url verified")
		writeJSON(w, map[string]string{"challenge": env.Challenge})
		return
	}
	if !signed {
		h.reject(w, r, "feishu", ErrUnsigned)
		return
	}
	if env.Schema != "2.0" {
		w.WriteHeader(http.StatusOK) // v1 events: nothing we subscribe to
		return
	}
	if !equalString(env.Header.Token, token) {
		h.reject(w, r, "feishu", errors.Join(ErrSignature, errors.New("verification token does not match")))
		return
	}
	if c.AppID != "" && env.Header.AppID != c.AppID {
		h.reject(w, r, "feishu", errors.Join(ErrSignature, errors.New("app_id does not match")))
		return
	}
	// Authentic from here on: always 200, so Feishu does not re-push.
	w.WriteHeader(http.StatusOK)
	if env.Header.EventType != "im.message.receive_v1" {
		return
	}
	var ev feishuMessageEvent
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		h.log.WarnContext(r.Context(), "chatops: feishu message event unreadable", "err", err.Error())
		return
	}
	o := Origin{
		Platform:  "feishu",
		User:      ev.Sender.SenderID.OpenID,
		Team:      env.Header.TenantKey,
		Chat:      ev.Message.ChatID,
		Thread:    ev.Message.MessageID,
		MessageID: env.Header.EventID,
	}
	if o.Team == "" {
		o.Team = ev.Sender.TenantKey
	}
	if o.MessageID == "" {
		o.MessageID = "message:" + ev.Message.MessageID
	}
	var content struct {
		Text string `json:"text"`
	}
	if ev.Message.MessageType != "text" || json.Unmarshal([]byte(ev.Message.Content), &content) != nil {
		h.reply(r.Context(), o, "Sorry, I only understand text commands.\n\n"+HelpText)
		return
	}
	h.reply(r.Context(), o, h.run(r.Context(), inbound{origin: o, text: content.Text}))
}

// equalString compares a static token in constant time (for equal lengths).
func equalString(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
