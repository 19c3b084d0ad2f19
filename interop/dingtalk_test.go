package interop_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

const (
	dingClient = "dingtalk (documented scheme)"
	dingSecret = "interopDingTalkAppSecret0123456789"
	dingCorp   = "dinginteropcorp"
	dingRobot  = "dinginteroprobot"
)

// dingSign is DingTalk's documented app-robot callback signature:
// base64(HMAC-SHA256(appSecret, timestamp + "\n" + appSecret)).
func dingSign(ts string) string {
	m := hmac.New(sha256.New, []byte(dingSecret))
	m.Write([]byte(ts + "\n" + dingSecret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func dingBody(msgID, text string) string {
	b, _ := json.Marshal(map[string]any{"chatbotCorpId": dingCorp, "robotCode": dingRobot, "conversationId": "C0INTEROP",
		"conversationType": "2", "msgId": msgID, "msgtype": "text", "senderStaffId": "tester", "senderNick": "tester",
		"senderCorpId": dingCorp, "createAt": time.Now().UnixMilli(),
		"sessionWebhook":            "https://oapi.dingtalk.com/robot/sendBySession?session=" + msgID,
		"sessionWebhookExpiredTime": time.Now().Add(time.Hour).UnixMilli(),
		"text":                      map[string]string{"content": " " + text}})
	return string(b)
}

// dingAnswer is what a callback's HTTP answer carries back into the
// conversation: a robot text message as DingTalk documents it
// ({"msgtype":"text","text":{"content":…}}), or nothing.
type dingAnswer struct {
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
}

// dingCall invokes the chatops bootstrap with one callback and returns the
// status and the text answered in the conversation ("" when the answer is
// not a DingTalk text message).
func dingCall(ctx context.Context, c *R, r *rie, ts, sign, body string) (int, string) {
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/dingtalk",
		Headers: map[string]string{"content-type": "application/json", "timestamp": ts, "sign": sign}, Body: body,
		RequestContext: events.LambdaFunctionURLRequestContext{DomainName: "abc.lambda-url.us-east-1.on.aws",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: http.MethodPost, Path: "/dingtalk", SourceIP: "203.0.113.9"}}}
	payload, _ := json.Marshal(ev)
	inv, err := r.invoke(ctx, payload)
	var resp events.LambdaFunctionURLResponse
	if err != nil || inv.err != nil || json.Unmarshal(inv.body, &resp) != nil {
		c.Errorf("invoke: %v %s", err, inv)
	}
	var a dingAnswer
	if resp.StatusCode == http.StatusOK && json.Unmarshal([]byte(resp.Body), &a) == nil && a.MsgType == "text" {
		return resp.StatusCode, a.Text.Content
	}
	return resp.StatusCode, ""
}

// dingNow is a fresh (timestamp, sign) pair: the product binds each pair to
// the first body it came with, as DingTalk sends a new pair per callback.
func dingNow() (string, string) {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	return ts, dingSign(ts)
}

// TestDingTalkThroughChatopsLambda: DingTalk app-robot callbacks signed by
// the documented scheme, through the chatops bootstrap under the RIE.
func TestDingTalkThroughChatopsLambda(t *testing.T) {
	e := startEmulator(t)
	env := lambdaEnv(e, "dingtalk")
	env["BACKUPFLOW_DINGTALK_APP_SECRET"] = dingSecret
	env["BACKUPFLOW_DINGTALK_CORP_ID"] = dingCorp
	env["BACKUPFLOW_DINGTALK_ROBOT_CODE"] = dingRobot
	env["BACKUPFLOW_DINGTALK_SENDERS"] = "tester"
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "dingtalk:tester"
	env["BACKUPFLOW_CHAT_IMPORT_USERS"] = "dingtalk:tester"
	r := startRIE(t, "chatops", env)
	q := sqsClient(e)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sign := dingSign(ts)
	check(t, dingClient, "backup → one job and an answer in the conversation", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_, _ = take(ctx, q, "backupflow-work")
		if st, text := dingCall(ctx, c, r, ts, sign, dingBody("msgInterop0001", "backup cdb-c1nl9rpv")); st != http.StatusOK || !strings.Contains(text, "queued") {
			c.Errorf("answer %d %q; want 200 and a text message naming the queued job", st, text)
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 1 {
			c.Errorf("%d jobs queued; want one", len(got))
		}
	})
	check(t, dingClient, "stale timestamp (2 h) → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		old := strconv.FormatInt(time.Now().Add(-2*time.Hour).UnixMilli(), 10)
		dingCall(ctx, c, r, old, dingSign(old), dingBody("msgInterop0002", "backup cdb-c1nl9rpv"))
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("a stale callback queued %d jobs", len(got))
		}
	})
	check(t, dingClient, "tampered sign → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		dingCall(ctx, c, r, now, dingSign(now+"1"), dingBody("msgInterop0003", "backup cdb-c1nl9rpv"))
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("a bad sign queued %d jobs", len(got))
		}
	})
	check(t, dingClient, "a captured (timestamp, sign) pair with a new body → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		dingCall(ctx, c, r, ts, sign, dingBody("msgInterop0004", "backup cdb-k2m4p6r8"))
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("a new body under a captured header pair queued %d jobs", len(got))
		}
	})
	check(t, dingClient, "import → confirm <code> queues the import", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_, _ = take(ctx, q, "backupflow-work")
		its, isign := dingNow()
		_, text := dingCall(ctx, c, r, its, isign, dingBody("msgInterop0005", "import cos://backups-1250000000/imports/orders.bak to mssql-njj2mtpl"))
		m := regexp.MustCompile(`confirm\s+([A-Za-z0-9-]+)`).FindStringSubmatch(text)
		if m == nil {
			c.Errorf("the import answer asks for no confirm code: %q", text)
			return
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("an unconfirmed import queued %d jobs", len(got))
		}
		cts, csign := dingNow()
		if _, text = dingCall(ctx, c, r, cts, csign, dingBody("msgInterop0006", "confirm "+m[1])); !strings.Contains(text, "queued") {
			c.Errorf("confirm answered %q; want the queued import", text)
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 1 || !strings.Contains(got[0].Body, "import") {
			c.Errorf("confirm queued %d jobs; want the import", len(got))
		}
	})
}
