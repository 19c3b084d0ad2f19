package interop_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/silenceper/wechat/v2/work/robot"
	"github.com/slack-go/slack"
)

const (
	noticeDingSecret   = "SECinterop0123456789abcdef"
	noticeFeishuSecret = "interopFeishuBotSecret"
)

// hooks plays the chat platforms' incoming webhooks (Slack incoming webhook,
// WeCom 消息推送, DingTalk custom robot, Feishu custom bot), answering each
// as its platform documents success, and keeps every request by path.
type hooks struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]*http.Request
	raw map[*http.Request][]byte
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{got: map[string][]*http.Request{}, raw: map[*http.Request][]byte{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got[r.URL.Path] = append(h.got[r.URL.Path], r)
		h.raw[r] = b
		h.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/services/"), strings.HasPrefix(r.URL.Path, "/commands/"):
			_, _ = io.WriteString(w, "ok") // Slack: 200 "ok" (incoming webhook, response_url)
		case strings.HasPrefix(r.URL.Path, "/open-apis/"):
			_, _ = io.WriteString(w, `{"code":0,"msg":"success","data":{}}`)
		default: // WeCom and DingTalk: errcode 0
			_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// bodies returns what was posted to path, in order, with the requests.
func (h *hooks) bodies(path string) ([]*http.Request, [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var bs [][]byte
	for _, r := range h.got[path] {
		bs = append(bs, h.raw[r])
	}
	return append([]*http.Request(nil), h.got[path]...), bs
}

// deliver plays Lambda's SQS event source once for fn: up to 10 visible
// records of queue as one batch, then deletes the records not listed in
// batchItemFailures. It returns how many records it handed over.
func deliver(ctx context.Context, c *R, q *sqs.Client, r *rie, queue string) int {
	msgs, err := received(ctx, q, queue, 10)
	if err != nil || len(msgs) == 0 {
		return 0
	}
	batch, _ := json.Marshal(events.SQSEvent{Records: msgs})
	inv, err := r.invoke(ctx, batch)
	var br batchResponse
	if err != nil || inv.err != nil || json.Unmarshal(inv.body, &br) != nil {
		c.Errorf("%s batch: %v %s", queue, err, inv)
		return len(msgs)
	}
	failed := map[string]bool{}
	for _, f := range br.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	u, _ := queueURL(ctx, q, queue)
	for _, m := range msgs {
		if !failed[m.MessageId] {
			_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: aws.String(m.ReceiptHandle)})
		}
	}
	return len(msgs)
}

// jobLines counts the lines of s that carry the job id under a "Job" label:
// one, since a notice that prints it twice (issue 14 item 9) reads as two
// jobs.
func jobLines(s, job string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "Job") && strings.Contains(l, job) {
			n++
		}
	}
	return n
}

// validSlack holds a message to what slack-go's Block Kit types accept:
// the blocks decode as known types and every text object passes its
// Validate.
func validSlack(m slack.WebhookMessage) error {
	if m.Text == "" {
		return fmt.Errorf("no top-level text (the notification fallback)")
	}
	if m.Blocks == nil || len(m.Blocks.BlockSet) == 0 {
		return fmt.Errorf("no blocks")
	}
	for _, b := range m.Blocks.BlockSet {
		var texts []*slack.TextBlockObject
		switch b := b.(type) {
		case *slack.HeaderBlock:
			texts = append(texts, b.Text)
		case *slack.SectionBlock:
			if b.Text != nil {
				texts = append(texts, b.Text)
			}
			texts = append(texts, b.Fields...)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					texts = append(texts, t)
				}
			}
		case *slack.DividerBlock:
		default:
			return fmt.Errorf("block type %q is not one slack-go knows", b.BlockType())
		}
		for _, t := range texts {
			if t == nil {
				return fmt.Errorf("%s block with an empty text object", b.BlockType())
			}
			if err := t.Validate(); err != nil {
				return fmt.Errorf("%s block: %v", b.BlockType(), err)
			}
		}
	}
	return nil
}

// TestChatOutcomeNotices: a Slack command's job runs through the deployed
// functions under the RIE (chatops → create-backup → poll-status, the SQS
// event source played as above, one ledger on the emulator's COS), and the
// outcome notices backupflow posts to chat webhooks are decoded into the
// platforms' own types: slack-go's WebhookMessage and Block Kit objects,
// silenceper/wechat's robot message options; DingTalk's and Feishu's by
// their documented shapes and signatures.
// noticeHandle is the path of the response_url slackRequest puts in the
// command (trigger trig-notice-1).
const noticeHandle = "/commands/T0INTEROP/1/trig-notice-1"

func TestChatOutcomeNotices(t *testing.T) {
	e := startEmulator(t)
	hk := newHooks(t)
	env := lambdaEnv(e, "notice")
	// The three functions are three processes: they share one ledger, the
	// Lambda build's s3:// driver on gofakes3 (the emulator serves COS, not
	// S3). BACKUPFLOW_AWS_ENDPOINT moves S3 there; the queues name the
	// emulator's SQS in their URLs.
	s3 := startS3(t, "backupflow-ledger")
	env["BACKUPFLOW_LEDGER"] = "s3://backupflow-ledger/interop-notice"
	env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
	for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
		env[v] += "&endpoint=" + e.URL
	}
	env["BACKUPFLOW_POLL_MIN"] = "1s"
	env["BACKUPFLOW_FIRST_POLL"] = "1s"
	env["BACKUPFLOW_NOTIFY"] = strings.Join([]string{
		"slack:" + hk.srv.URL + "/services/T0INTEROP/B0INTEROP/team",
		"wecom:" + hk.srv.URL + "/cgi-bin/webhook/send?key=interopwecomkey",
		"dingtalk:" + hk.srv.URL + "/robot/send?access_token=interopdingtoken&secret=" + noticeDingSecret,
		"feishu:" + hk.srv.URL + "/open-apis/bot/v2/hook/interopfeishutoken?secret=" + noticeFeishuSecret,
	}, ",")
	env["BACKUPFLOW_REPLY_SLACK"] = "slack:" + hk.srv.URL + "/services/T0INTEROP/B0INTEROP/reply"
	// The command's response_url (hooks.slack.com/commands/…) is played
	// here too: the result goes back to the conversation through it.
	env["BACKUPFLOW_CHAT_REPLY_ENDPOINT"] = hk.srv.URL
	env["BACKUPFLOW_SLACK_SIGNING_SECRET"] = slackSecret
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "slack:U0INTEROP"
	chat := startRIE(t, "chatops", env)
	create := startRIE(t, "create-backup", env)
	poll := startRIE(t, "poll-status", env)
	q := sqsClient(e)

	var job string
	check(t, slackClient, "a command's job runs through create-backup and poll-status to its outcome notices", func(c *R) {
		ctx := deadline(t, 120*time.Second)
		_ = purge(ctx, q, "backupflow-work")
		h, body := slackRequest(c, "backup cdb-c1nl9rpv", "trig-notice-1", time.Now())
		if status, msg := slackAnswer(ctx, c, chat, h, body); status != http.StatusOK || !strings.Contains(msg.Text, "queued") {
			c.Errorf("answer %d %q; want the queued job", status, msg.Text)
			return
		}
		for ctx.Err() == nil {
			deliver(ctx, c, q, create, "backupflow-work")
			deliver(ctx, c, q, poll, "backupflow-poll")
			if reqs, _ := hk.bodies(noticeHandle); len(reqs) > 0 {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		_, bs := hk.bodies("/services/T0INTEROP/B0INTEROP/team")
		if len(bs) != 1 {
			c.Errorf("%d notices on the team channel; want one", len(bs))
			return
		}
		var m struct {
			Blocks []struct {
				Elements []struct{ Text string } `json:"elements"`
			} `json:"blocks"`
		}
		_ = json.Unmarshal(bs[0], &m)
		for _, b := range m.Blocks {
			for _, el := range b.Elements {
				if id, ok := strings.CutPrefix(el.Text, "job "); ok {
					job, _, _ = strings.Cut(id, " ")
				}
			}
		}
		if job == "" {
			c.Errorf("the notice names no job: %s", bs[0])
		}
	})
	slackNotice := func(c *R, path string) (slack.WebhookMessage, bool) {
		reqs, bs := hk.bodies(path)
		if len(bs) != 1 {
			c.Errorf("%d posts to %s; want one", len(bs), path)
			return slack.WebhookMessage{}, false
		}
		if ct := reqs[0].Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			c.Errorf("Content-Type %q; Slack wants application/json", ct)
		}
		var msg slack.WebhookMessage
		if err := json.Unmarshal(bs[0], &msg); err != nil {
			c.Errorf("not a slack.WebhookMessage: %v: %s", err, bs[0])
			return msg, false
		}
		if err := validSlack(msg); err != nil {
			c.Errorf("slack-go's Block Kit types refuse it: %v: %s", err, bs[0])
		}
		return msg, true
	}
	check(t, slackClient, "outcome notice decodes as slack.WebhookMessage and its blocks validate (team channel)", func(c *R) {
		if msg, ok := slackNotice(c, "/services/T0INTEROP/B0INTEROP/team"); ok {
			if !strings.Contains(msg.Text, "cdb-c1nl9rpv") || !strings.Contains(msg.Text, job) {
				c.Errorf("fallback text %q names neither the instance nor job %s", msg.Text, job)
			}
		}
	})
	check(t, slackClient, "outcome reply in the asker's conversation, through the command's response_url, in_channel, mentions them", func(c *R) {
		if reqs, _ := hk.bodies("/services/T0INTEROP/B0INTEROP/reply"); len(reqs) != 0 {
			c.Errorf("%d posts to the static reply channel while the response_url lasts; want none", len(reqs))
		}
		if msg, ok := slackNotice(c, noticeHandle); ok {
			if msg.ResponseType != "in_channel" {
				c.Errorf("response_type %q; want in_channel, so the channel sees the result", msg.ResponseType)
			}
			mentioned := false
			for _, b := range msg.Blocks.BlockSet {
				if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil && strings.Contains(s.Text.Text, "<@U0INTEROP>") {
					mentioned = true
				}
			}
			if !mentioned {
				c.Errorf("no section of the reply mentions who asked (<@U0INTEROP>): %+v", msg.Blocks.BlockSet)
			}
		}
	})
	check(t, wecomClient, "outcome notice decodes as robot.WebhookSendMarkdownOption, Job line once", func(c *R) {
		reqs, bs := hk.bodies("/cgi-bin/webhook/send")
		if len(bs) != 1 {
			c.Errorf("%d posts to the WeCom webhook; want one", len(bs))
			return
		}
		if k := reqs[0].URL.Query().Get("key"); k != "interopwecomkey" {
			c.Errorf("posted with key %q", k)
		}
		var md robot.WebhookSendMarkdownOption
		if err := json.Unmarshal(bs[0], &md); err != nil || md.MsgType != "markdown" || md.Markdown.Content == "" {
			c.Errorf("not a markdown robot message: %v: %s", err, bs[0])
			return
		}
		if n := len(md.Markdown.Content); n > 4096 {
			c.Errorf("markdown content is %d bytes; WeCom's limit is 4096", n)
		}
		if n := jobLines(md.Markdown.Content, job); job == "" || n != 1 {
			c.Errorf("job %q on %d Job lines; want one: %q", job, n, md.Markdown.Content)
		}
	})
	check(t, dingClient, "outcome notice signed (加签) as documented, markdown, Job line once", func(c *R) {
		reqs, bs := hk.bodies("/robot/send")
		if len(bs) != 1 {
			c.Errorf("%d posts to the DingTalk robot; want one", len(bs))
			return
		}
		// timestamp (ms) and sign = base64(HMAC-SHA256(secret, ts+"\n"+secret)),
		// URL-encoded in the query.
		qv := reqs[0].URL.Query()
		ts := qv.Get("timestamp")
		mac := hmac.New(sha256.New, []byte(noticeDingSecret))
		mac.Write([]byte(ts + "\n" + noticeDingSecret))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); qv.Get("sign") != want || qv.Get("access_token") != "interopdingtoken" {
			c.Errorf("query %q: sign or token is not DingTalk's (want sign %s)", reqs[0].URL.RawQuery, want)
		}
		if ms, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
			c.Errorf("timestamp %q is not milliseconds within DingTalk's hour", ts)
		}
		var m struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Title string `json:"title"`
				Text  string `json:"text"`
			} `json:"markdown"`
		}
		if err := json.Unmarshal(bs[0], &m); err != nil || m.MsgType != "markdown" || m.Markdown.Title == "" || m.Markdown.Text == "" {
			c.Errorf("not a DingTalk markdown message with title and text: %v: %s", err, bs[0])
			return
		}
		if n := jobLines(m.Markdown.Text, job); job == "" || n != 1 {
			c.Errorf("job %q on %d Job lines; want one: %q", job, n, m.Markdown.Text)
		}
	})
	check(t, feishuClient, "outcome notice signed as the custom bot documents, a card, Job line once", func(c *R) {
		_, bs := hk.bodies("/open-apis/bot/v2/hook/interopfeishutoken")
		if len(bs) != 1 {
			c.Errorf("%d posts to the Feishu bot; want one", len(bs))
			return
		}
		var m struct {
			Timestamp string          `json:"timestamp"`
			Sign      string          `json:"sign"`
			MsgType   string          `json:"msg_type"`
			Card      json.RawMessage `json:"card"`
		}
		if err := json.Unmarshal(bs[0], &m); err != nil || m.MsgType != "interactive" || len(m.Card) == 0 {
			c.Errorf("not an interactive card message: %v: %s", err, bs[0])
			return
		}
		// sign = base64(HMAC-SHA256(key = timestamp+"\n"+secret, message = empty)),
		// timestamp in seconds, both in the body.
		mac := hmac.New(sha256.New, []byte(m.Timestamp+"\n"+noticeFeishuSecret))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); m.Sign != want {
			c.Errorf("sign %q; the custom bot's scheme gives %q", m.Sign, want)
		}
		if s, err := strconv.ParseInt(m.Timestamp, 10, 64); err != nil || time.Since(time.Unix(s, 0)).Abs() > time.Hour {
			c.Errorf("timestamp %q is not seconds within Feishu's hour", m.Timestamp)
		}
		if len(bs[0]) > 20<<10 {
			c.Errorf("body is %d bytes; the custom bot takes 20 KB", len(bs[0]))
		}
		var card struct {
			Elements []struct {
				Tag     string `json:"tag"`
				Content string `json:"content"`
			} `json:"elements"`
		}
		_ = json.Unmarshal(m.Card, &card)
		var text []string
		for _, el := range card.Elements {
			text = append(text, el.Content)
		}
		if n := jobLines(strings.Join(text, "\n"), job); job == "" || n != 1 {
			c.Errorf("job %q on %d Job lines; want one: %s", job, n, m.Card)
		}
	})
}
