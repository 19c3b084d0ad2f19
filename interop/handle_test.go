package interop_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/work/robot"
)

// TestChatResultsThroughReplyHandles: a DingTalk and a WeCom smart-robot
// `backup` run through the three deployed functions under the RIE (chatops,
// then create-backup and poll-status fed by the SQS event source as in
// TestChatOutcomeNotices, one s3:// ledger on gofakes3), and each result
// goes back into the asker's conversation through the reply handle its
// command carried: DingTalk's sessionWebhook (decoded as DingTalk documents
// a robot markdown message, with the asker in at.atUserIds: DingTalk has
// no installable Go SDK) and the WeCom robot's response_url (decoded as
// silenceper/wechat's robot.WebhookSendMarkdownOption, posted once: WeCom
// takes each response_url once). No static reply channel is set, so a
// result that missed its handle would reach nobody.
func TestChatResultsThroughReplyHandles(t *testing.T) {
	e := startEmulator(t)
	hk := newHooks(t)
	env := lambdaEnv(e, "handles")
	s3 := startS3(t, "backupflow-ledger")
	env["BACKUPFLOW_LEDGER"] = "s3://backupflow-ledger/interop-handles"
	env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
	for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
		env[v] += "&endpoint=" + e.URL
	}
	env["BACKUPFLOW_POLL_MIN"], env["BACKUPFLOW_FIRST_POLL"] = "1s", "1s"
	// The handles (oapi.dingtalk.com/robot/sendBySession…,
	// qyapi.weixin.qq.com/cgi-bin/aibot/response…) are played here.
	env["BACKUPFLOW_CHAT_REPLY_ENDPOINT"] = hk.srv.URL
	env["BACKUPFLOW_DINGTALK_APP_SECRET"] = dingSecret
	env["BACKUPFLOW_DINGTALK_CORP_ID"] = dingCorp
	env["BACKUPFLOW_DINGTALK_ROBOT_CODE"] = dingRobot
	env["BACKUPFLOW_DINGTALK_SENDERS"] = "tester"
	env["BACKUPFLOW_WECOM_ROBOT_TOKEN"] = robotToken
	env["BACKUPFLOW_WECOM_ROBOT_AES_KEY"] = robotAESKey
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "dingtalk:tester,wecom:lisi"
	chat := startRIE(t, "chatops", env)
	create := startRIE(t, "create-backup", env)
	poll := startRIE(t, "poll-status", env)
	q := sqsClient(e)

	// run delivers work and poll records until something is posted to path.
	run := func(c *R, path string) ([]*http.Request, [][]byte) {
		ctx := deadline(t, 120*time.Second)
		for ctx.Err() == nil {
			deliver(ctx, c, q, create, "backupflow-work")
			deliver(ctx, c, q, poll, "backupflow-poll")
			if reqs, _ := hk.bodies(path); len(reqs) > 0 {
				// A second post to a one-use handle would come right after.
				time.Sleep(2 * time.Second)
				return hk.bodies(path)
			}
			time.Sleep(300 * time.Millisecond)
		}
		c.Errorf("no result posted to %s in 2 minutes", path)
		return nil, nil
	}

	check(t, dingClient, "backup result in the conversation through the message's sessionWebhook, markdown, @ the asker", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_ = purge(ctx, q, "backupflow-work")
		ts, sign := dingNow()
		if st, text := dingCall(ctx, c, chat, ts, sign, dingBody("msgHandle0001", "backup cdb-c1nl9rpv")); st != http.StatusOK || !strings.Contains(text, "queued") {
			c.Errorf("answer %d %q; want the queued job", st, text)
			return
		}
		reqs, bs := run(c, "/robot/sendBySession")
		if len(bs) != 1 {
			c.Errorf("%d posts to the sessionWebhook; want the one result", len(bs))
			return
		}
		if s := reqs[0].URL.Query().Get("session"); s != "msgHandle0001" {
			c.Errorf("posted to session %q; want the command's (msgHandle0001)", s)
		}
		if ct := reqs[0].Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			c.Errorf("Content-Type %q; DingTalk wants application/json", ct)
		}
		var m struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Title string `json:"title"`
				Text  string `json:"text"`
			} `json:"markdown"`
			At struct {
				AtUserIDs []string `json:"atUserIds"`
			} `json:"at"`
		}
		if err := json.Unmarshal(bs[0], &m); err != nil || m.MsgType != "markdown" || m.Markdown.Title == "" || m.Markdown.Text == "" {
			c.Errorf("not a DingTalk markdown message with title and text: %v: %s", err, bs[0])
			return
		}
		if !strings.Contains(m.Markdown.Text, "cdb-c1nl9rpv") {
			c.Errorf("the result does not name the instance: %q", m.Markdown.Text)
		}
		if !slices.Contains(m.At.AtUserIDs, "tester") {
			c.Errorf("at.atUserIds %v does not mention who asked (tester)", m.At.AtUserIDs)
		}
	})

	robotMsg := func(id, text string) string {
		b, _ := json.Marshal(map[string]any{"msgid": id, "aibotid": "AIBOTINTEROP", "chatid": "CHATINTEROP",
			"chattype": "group", "from": map[string]string{"userid": "lisi"}, "msgtype": "text",
			"text":         map[string]string{"content": "@BackupBot " + text},
			"response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=CODE" + id})
		return string(b)
	}
	check(t, wecomClient, "robot backup result through its response_url, decodes as robot.WebhookSendMarkdownOption, posted once", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_ = purge(ctx, q, "backupflow-work")
		query, enc := robotQuery(c, robotMsg("robot-9001", "backup cmgo-ayxpky6l"), time.Now(), "77777")
		envelope, _ := json.Marshal(map[string]string{"encrypt": enc})
		if resp := wecomCall(ctx, c, chat, http.MethodPost, query, string(envelope)); resp.StatusCode != http.StatusOK {
			c.Errorf("callback answered %d %q", resp.StatusCode, resp.Body)
			return
		}
		reqs, bs := run(c, "/cgi-bin/aibot/response")
		if len(bs) != 1 {
			c.Errorf("%d posts to the response_url; WeCom takes each once: want the one result", len(bs))
			return
		}
		if code := reqs[0].URL.Query().Get("response_code"); code != "CODErobot-9001" {
			c.Errorf("posted with response_code %q; want the callback's", code)
		}
		var md robot.WebhookSendMarkdownOption
		if err := json.Unmarshal(bs[0], &md); err != nil || md.MsgType != "markdown" || md.Markdown.Content == "" {
			c.Errorf("not a markdown robot message: %v: %s", err, bs[0])
			return
		}
		if n := len(md.Markdown.Content); n > 4096 {
			c.Errorf("markdown content is %d bytes; WeCom's limit is 4096", n)
		}
		if !strings.Contains(md.Markdown.Content, "cmgo-ayxpky6l") {
			c.Errorf("the result does not name the instance: %q", md.Markdown.Content)
		}
	})
}
