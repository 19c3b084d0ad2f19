package chatops

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"
)

// wecomEnvelope is the outer XML of a self-built app callback.
type wecomEnvelope struct {
	ToUserName string `xml:"ToUserName"`
	AgentID    string `xml:"AgentID"`
	Encrypt    string `xml:"Encrypt"`
}

// wecomAppMessage is the decrypted XML of an app message.
type wecomAppMessage struct {
	ToUserName   string `xml:"ToUserName"`
	FromUserName string `xml:"FromUserName"`
	MsgType      string `xml:"MsgType"`
	Content      string `xml:"Content"`
	MsgID        string `xml:"MsgId"`
	AgentID      string `xml:"AgentID"`
}

// wecomRobotMessage is the decrypted JSON of a smart-robot callback.
type wecomRobotMessage struct {
	MsgID    string `json:"msgid"`
	ChatID   string `json:"chatid"`
	ChatType string `json:"chattype"`
	From     struct {
		UserID string `json:"userid"`
	} `json:"from"`
	ResponseURL string `json:"response_url"`
	MsgType     string `json:"msgtype"`
	Text        struct {
		Content string `json:"content"`
	} `json:"text"`
}

type wecomKind struct {
	name      string // "app" or "robot", for logs
	token     string
	key       []byte
	receiveID string
}

func (h *handler) wecomKinds() []wecomKind {
	var ks []wecomKind
	if h.wecomApp != nil {
		ks = append(ks, wecomKind{"app", h.cfg.WeCom.App.Token.Reveal(), h.wecomApp, h.cfg.WeCom.CorpID})
	}
	if h.wecomRobot != nil {
		ks = append(ks, wecomKind{"robot", h.cfg.WeCom.Robot.Token.Reveal(), h.wecomRobot, ""})
	}
	return ks
}

// wecom serves both WeCom callbacks on one path: GET is the URL check of
// either; a POST body in XML is the self-built app, in JSON the smart robot.
// Messages are answered with an empty 200 (a passive reply would have to be
// encrypted); the reply text goes to Deps.Replies.
func (h *handler) wecom(w http.ResponseWriter, r *http.Request, body []byte) {
	q := r.URL.Query()
	sig, ts, nonce := q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce")
	now := h.now()
	switch r.Method {
	case http.MethodGet:
		err := error(ErrUnsigned)
		for _, k := range h.wecomKinds() {
			for _, echo := range plusVariants(q.Get("echostr")) {
				if err = VerifyWeCom(sig, k.token, ts, nonce, echo, now); err != nil {
					continue
				}
				msg, rid, derr := decryptWeCom(k.key, echo)
				if derr != nil {
					h.reject(w, r, "wecom", derr)
					return
				}
				if rid != k.receiveID {
					h.reject(w, r, "wecom", errors.Join(ErrSignature, errors.New("receiveid does not match")))
					return
				}
				if !isEchostr(msg) {
					// A message's signature and ciphertext replayed as a URL
					// check: echoing would decrypt it for the caller.
					h.reject(w, r, "wecom", errors.Join(ErrSignature, errors.New("echostr plaintext is not a verification token")))
					return
				}
				h.log.InfoContext(r.Context(), "chatops: wecom url verified", "kind", k.name)
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusOK)
				w.Write(msg)
				return
			}
		}
		h.reject(w, r, "wecom", err)
	case http.MethodPost:
		h.wecomPost(w, r, body, sig, ts, nonce)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

// isEchostr reports whether a decrypted echostr is what WeCom's URL check
// sends: a short random token (digits in the documented sample). Message
// plaintexts are XML or JSON and never pass.
func isEchostr(msg []byte) bool {
	if len(msg) == 0 || len(msg) > 64 {
		return false
	}
	for _, c := range msg {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// plusVariants returns v and, when it holds spaces, v with them turned back
// into '+': a sender that forgot to escape base64 loses its '+' to query
// decoding (facts §9.16). The signature decides which one is real.
func plusVariants(v string) []string {
	if strings.Contains(v, " ") {
		return []string{v, strings.ReplaceAll(v, " ", "+")}
	}
	return []string{v}
}

func (h *handler) wecomPost(w http.ResponseWriter, r *http.Request, body []byte, sig, ts, nonce string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	var k wecomKind
	var encrypt string
	switch {
	case len(trimmed) > 0 && trimmed[0] == '<' && h.wecomApp != nil:
		var env wecomEnvelope
		if err := xml.Unmarshal(trimmed, &env); err != nil {
			h.reject(w, r, "wecom", errors.Join(ErrUnsigned, errors.New("no Encrypt element")))
			return
		}
		k, encrypt = h.wecomKinds()[0], env.Encrypt
	case len(trimmed) > 0 && trimmed[0] == '{' && h.wecomRobot != nil:
		var env struct {
			Encrypt string `json:"encrypt"`
		}
		if err := json.Unmarshal(trimmed, &env); err != nil {
			h.reject(w, r, "wecom", errors.Join(ErrUnsigned, errors.New("no encrypt field")))
			return
		}
		ks := h.wecomKinds()
		k, encrypt = ks[len(ks)-1], env.Encrypt
	default:
		h.reject(w, r, "wecom", errors.Join(ErrUnsigned, errors.New("body is neither a configured app (XML) nor robot (JSON) callback")))
		return
	}
	if err := VerifyWeCom(sig, k.token, ts, nonce, encrypt, h.now()); err != nil {
		h.reject(w, r, "wecom", err)
		return
	}
	plain, rid, err := decryptWeCom(k.key, encrypt)
	if err != nil {
		h.reject(w, r, "wecom", err)
		return
	}
	if rid != k.receiveID {
		h.reject(w, r, "wecom", errors.Join(ErrSignature, errors.New("receiveid does not match")))
		return
	}
	// From here on the request is authentic: answer 200 whatever it holds,
	// the text (if any) as the encrypted passive reply the callback allows,
	// so it reaches the conversation it came from.
	var in inbound
	var answer string
	var ok bool
	if k.name == "app" {
		in, answer, ok = h.wecomApp1(r.Context(), plain, nonce)
	} else {
		in, answer, ok = h.wecomRobot1(r.Context(), plain, nonce)
	}
	if ok {
		answer = h.run(r.Context(), in)
	}
	if answer == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	var out []byte
	if k.name == "app" {
		out, err = wecomAppPassive(k, in.origin.User, answer, nonce, h.now())
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	} else {
		out, err = wecomRobotPassive(k, "bf-"+digest(in.origin.MessageID)[:16], answer, nonce, h.now())
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "chatops: wecom passive reply", "err", err.Error())
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// wecomApp1 reads an app message: a command to run, or an answer to give
// at once (answer "" means an empty 200).
func (h *handler) wecomApp1(ctx context.Context, plain []byte, nonce string) (inbound, string, bool) {
	var m wecomAppMessage
	if err := xml.Unmarshal(plain, &m); err != nil {
		h.log.WarnContext(ctx, "chatops: wecom app message is not XML", "err", err.Error())
		return inbound{}, "", false
	}
	// Thread marks the app (and its agent): the job's result goes back to
	// who asked as an app message (app.WeComAppThread), since the passive
	// reply answers only this callback.
	o := Origin{Platform: "wecom", User: m.FromUserName, Team: m.ToUserName, MessageID: m.MsgID,
		Thread: WeComAppThread + m.AgentID}
	if o.MessageID == "" {
		o.MessageID = "nonce:" + nonce
	}
	switch m.MsgType {
	case "text":
		return inbound{origin: o, text: m.Content}, "", true
	case "event":
		return inbound{}, "", false // entering the app, menu clicks: nothing to say
	}
	return inbound{origin: o}, "Sorry, I only understand text commands.\n\n" + HelpText, false
}

// WeComAppThread starts the Thread of a command that came through the
// self-built app's callback; pkg/app reads the same prefix.
const WeComAppThread = "wecom-app:"

// wecomRobotReplyLifetime is how long a smart robot's response_url takes its
// one post (facts/chatops.md §3.3).
const wecomRobotReplyLifetime = time.Hour

func (h *handler) wecomRobot1(ctx context.Context, plain []byte, nonce string) (inbound, string, bool) {
	var m wecomRobotMessage
	if err := json.Unmarshal(plain, &m); err != nil {
		h.log.WarnContext(ctx, "chatops: wecom robot message is not JSON", "err", err.Error())
		return inbound{}, "", false
	}
	o := Origin{Platform: "wecom", User: m.From.UserID, Team: h.cfg.WeCom.CorpID, Chat: m.ChatID,
		MessageID: m.MsgID}
	if m.ResponseURL != "" {
		// WeCom takes one post to a robot's response_url, within an hour.
		o.ReplyURL, o.ReplyExpires = m.ResponseURL, h.now().Add(wecomRobotReplyLifetime)
	}
	if o.MessageID == "" {
		o.MessageID = "nonce:" + nonce // unique for two hours, per WeCom
	}
	switch m.MsgType {
	case "text":
		return inbound{origin: o, text: m.Text.Content}, "", true
	case "stream", "event":
		return inbound{}, "", false // stream refreshes and events carry no command
	}
	return inbound{origin: o}, "Sorry, I only understand text commands.\n\n" + HelpText, false
}

// reply hands text to Deps.Replies, when wired, for platforms whose HTTP
// answer stays empty.
func (h *handler) reply(ctx context.Context, o Origin, text string) {
	if h.deps.Replies == nil {
		h.log.DebugContext(ctx, "chatops: no replier wired; reply dropped", "origin", o)
		return
	}
	if err := h.deps.Replies.Reply(ctx, o, text); err != nil {
		h.log.ErrorContext(ctx, "chatops: reply failed", "origin", o, "err", err.Error())
	}
}
