package chatops

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

type dingTalkMessage struct {
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
	MsgID          string `json:"msgId"`
	ConversationID string `json:"conversationId"`
	SenderStaffID  string `json:"senderStaffId"`
	SenderCorpID   string `json:"senderCorpId"`
	ChatbotCorpID  string `json:"chatbotCorpId"`
	RobotCode      string `json:"robotCode"`
	SessionWebhook string `json:"sessionWebhook"`
	// SessionWebhookExpiredTime is when the session webhook stops working
	// (ms since the epoch, about 90 minutes after the message).
	SessionWebhookExpiredTime int64 `json:"sessionWebhookExpiredTime"`
}

type dingTalkReply struct {
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
}

func dingTalkText(s string) dingTalkReply {
	r := dingTalkReply{MsgType: "text"}
	r.Text.Content = s
	return r
}

// dingtalk serves the app robot's HTTP callbacks. The sign proves only that
// DingTalk (or someone who captured a header pair within the hour) sent it,
// so the body must also name our robot and corp, carry a message id, and
// come from a listed sender.
func (h *handler) dingtalk(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	c := h.cfg.DingTalk
	if err := VerifyDingTalk(r.Header, c.AppSecret.Reveal(), h.now()); err != nil {
		h.reject(w, r, "dingtalk", err)
		return
	}
	if err := h.claimDingTalkSign(r, body); err != nil {
		if errors.Is(err, ErrReplay) {
			h.reject(w, r, "dingtalk", err)
			return
		}
		h.log.ErrorContext(r.Context(), "chatops: dingtalk sign claim", "err", err.Error())
		writeJSON(w, dingTalkText("Sorry, I cannot take commands right now; try again in a minute."))
		return
	}
	var m dingTalkMessage
	if err := json.Unmarshal(body, &m); err != nil {
		h.reject(w, r, "dingtalk", errors.Join(ErrSignature, errors.New("body is not a robot message")))
		return
	}
	switch {
	case m.RobotCode != c.RobotCode:
		h.reject(w, r, "dingtalk", errors.Join(ErrSignature, errors.New("robotCode does not match")))
		return
	case c.CorpID != "" && m.ChatbotCorpID != c.CorpID:
		h.reject(w, r, "dingtalk", errors.Join(ErrSignature, errors.New("chatbotCorpId does not match")))
		return
	case m.MsgID == "":
		h.reject(w, r, "dingtalk", errors.Join(ErrSignature, errors.New("no msgId to deduplicate on")))
		return
	}
	o := Origin{
		Platform:  "dingtalk",
		User:      m.SenderStaffID,
		Team:      m.SenderCorpID,
		Chat:      m.ConversationID,
		MessageID: m.MsgID,
	}
	// A session webhook without its expiry is not used: nothing says
	// when it stops working, and the static channel is there for that.
	if m.SessionWebhook != "" && m.SessionWebhookExpiredTime > 0 {
		o.ReplyURL, o.ReplyExpires = m.SessionWebhook, time.UnixMilli(m.SessionWebhookExpiredTime)
	}
	if o.Team == "" {
		o.Team = m.ChatbotCorpID
	}
	if !contains(c.Senders, "*") && !contains(c.Senders, m.SenderStaffID) {
		writeJSON(w, dingTalkText(h.deny(r.Context(), o, Command{}, "dingtalk sender not listed")))
		return
	}
	if m.MsgType != "text" {
		writeJSON(w, dingTalkText("Sorry, I only understand text commands.\n\n"+HelpText))
		return
	}
	writeJSON(w, dingTalkText(h.run(r.Context(), inbound{origin: o, text: m.Text.Content})))
}

// claimDingTalkSign binds a (timestamp, sign) pair to the first body seen
// under it. The sign covers only the timestamp, so without this one captured
// header pair would admit any body for the hour DingTalk's window lasts. A
// resend of the same body passes (its msgId claim answers it); another body
// is a replay. What remains possible: a captured pair used before DingTalk's
// own delivery arrives, or a process that dies between the claim and the
// record, which lets the next body under that pair through once.
func (h *handler) claimDingTalkSign(r *http.Request, body []byte) error {
	ctx := r.Context()
	key := keyDingTalkSign + digest(r.Header.Get("timestamp"), r.Header.Get("sign"))
	sum := sha256.Sum256(body)
	first, err := h.deps.Store.Claim(ctx, key, dedupeTTL)
	if err != nil {
		return err
	}
	if !first {
		was, found, err := h.deps.Store.Get(ctx, key+":body")
		if err != nil {
			return err
		}
		if found {
			if !bytes.Equal(was, sum[:]) {
				return errors.Join(ErrReplay, errors.New("this timestamp and sign already came with another body"))
			}
			return nil
		}
	}
	return h.deps.Store.Put(ctx, key+":body", sum[:], dedupeTTL)
}

func contains(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
