package chatops

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// slack serves slash commands: verify over the raw form body, then answer
// with an ephemeral JSON message.
func (h *handler) slack(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if err := VerifySlack(r.Header, body, h.cfg.Slack.SigningSecret.Reveal(), h.now()); err != nil {
		// Slack's certificate probe: exactly ssl_check=1, answered with an
		// empty 200 and nothing else, signed or not.
		if isSSLCheck(body) {
			w.WriteHeader(http.StatusOK)
			return
		}
		h.reject(w, r, "slack", err)
		return
	}
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '{' {
		h.slackEvents(w, r, b)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeJSON(w, slackReply("Sorry, I could not read that request.\n\n"+HelpText))
		return
	}
	if isSSLCheck(body) {
		w.WriteHeader(http.StatusOK)
		return
	}
	// trigger_id is unique per invocation; without it, the signature of a
	// signed request identifies it just as well.
	msgID := form.Get("trigger_id")
	if msgID == "" {
		msgID = "sig:" + r.Header.Get(HeaderSlackTimestamp) + ":" + r.Header.Get(HeaderSlackSignature)
	}
	in := inbound{
		origin: Origin{
			Platform:  "slack",
			User:      form.Get("user_id"),
			Team:      form.Get("team_id"),
			Chat:      form.Get("channel_id"),
			MessageID: msgID,
			ReplyURL:  form.Get("response_url"),
			// Slack honours a response_url for 30 minutes (5 posts).
			ReplyExpires: h.now().Add(slackReplyLifetime),
		},
		text: form.Get("text"),
	}
	writeJSON(w, slackReply(h.run(r.Context(), in)))
}

// slackEvents answers the Events API, which posts JSON signed like a slash
// command. Its URL check is answered so that the app can be saved; its
// events are refused, because commands are taken only as slash commands
// (an event would need a bot token to answer, and would run twice beside a
// slash command pointed here too).
func (h *handler) slackEvents(w http.ResponseWriter, r *http.Request, body []byte) {
	var ev struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &ev); err == nil && ev.Type == "url_verification" && ev.Challenge != "" {
		writeJSON(w, map[string]string{"challenge": ev.Challenge})
		return
	}
	h.log.WarnContext(r.Context(), "chatops: slack events api payload refused: only slash commands are taken", "type", ev.Type)
	http.Error(w, "backupflow takes Slack commands as slash commands only; point a slash command at this URL, not event subscriptions", http.StatusBadRequest)
}

func isSSLCheck(body []byte) bool {
	v, err := url.ParseQuery(string(body))
	return err == nil && len(v["ssl_check"]) == 1 && v["ssl_check"][0] == "1"
}

// slackReplyLifetime is how long Slack accepts posts to a response_url
// (facts/chatops.md §2.3).
const slackReplyLifetime = 30 * time.Minute

type slackMessage struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// slackReply escapes &, < and > as Slack's mrkdwn requires, so echoed user
// input (and the <placeholders> of the help text) cannot become mentions or
// links.
func slackReply(text string) slackMessage {
	text = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
	return slackMessage{ResponseType: "ephemeral", Text: text}
}
