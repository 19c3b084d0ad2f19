package interop_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/silenceper/wechat/v2/util"
)

const (
	wecomClient = "silenceper/wechat"
	wecomCorp   = "wwinterop0000001"
	wecomToken  = "interopWeComToken"
	wecomAESKey = "InteropWeComAppEncodingAESKey0123456789abcd" // 43 characters
)

// wecomQuery encrypts plain with silenceper/wechat's WeCom message crypto
// and signs it as WeCom does (SHA1 over the sorted token, timestamp, nonce,
// ciphertext), returning the query and the ciphertext.
func wecomQuery(c *R, plain string, ts time.Time, nonce string) (url.Values, string) {
	enc, err := util.EncryptMsg([]byte(util.RandomStr(16)), []byte(plain), wecomCorp, wecomAESKey)
	if err != nil {
		c.Errorf("encrypt: %v", err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	return url.Values{"msg_signature": {util.Signature(wecomToken, stamp, nonce, string(enc))},
		"timestamp": {stamp}, "nonce": {nonce}}, string(enc)
}

func wecomEvent(method string, q url.Values, body string) []byte {
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/wecom", RawQueryString: q.Encode(),
		Headers: map[string]string{"content-type": "text/xml"}, Body: body,
		RequestContext: events.LambdaFunctionURLRequestContext{DomainName: "abc.lambda-url.us-east-1.on.aws",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: method, Path: "/wecom", SourceIP: "203.0.113.9"}}}
	b, _ := json.Marshal(ev)
	return b
}

func wecomCall(ctx context.Context, c *R, r *rie, method string, q url.Values, body string) events.LambdaFunctionURLResponse {
	inv, err := r.invoke(ctx, wecomEvent(method, q, body))
	var resp events.LambdaFunctionURLResponse
	if err != nil || inv.err != nil || json.Unmarshal(inv.body, &resp) != nil {
		c.Errorf("invoke: %v %s", err, inv)
	}
	return resp
}

// TestWeComThroughChatopsLambda: WeCom app callbacks and URL verification
// built with silenceper/wechat's crypto, through the chatops bootstrap.
func TestWeComThroughChatopsLambda(t *testing.T) {
	e := startEmulator(t)
	env := lambdaEnv(e, "wecom")
	env["BACKUPFLOW_WECOM_TOKEN"] = wecomToken
	env["BACKUPFLOW_WECOM_AES_KEY"] = wecomAESKey
	env["BACKUPFLOW_WECOM_CORP_ID"] = wecomCorp
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "wecom:zhangsan"
	r := startRIE(t, "chatops", env)
	q := sqsClient(e)
	msg := func(id, text string) string {
		return fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"+
			"<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content>"+
			"<MsgId>%s</MsgId><AgentID>1000002</AgentID></xml>", wecomCorp, time.Now().Unix(), text, id)
	}
	envelope := func(enc string) string {
		return fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>"+
			"<Encrypt><![CDATA[%s]]></Encrypt></xml>", wecomCorp, enc)
	}
	var firstJob string
	var captured url.Values
	var capturedEnc string
	check(t, wecomClient, "app callback backup → one job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_, _ = take(ctx, q, "backupflow-work")
		query, enc := wecomQuery(c, msg("7001", "backup cdb-c1nl9rpv"), time.Now(), "11111")
		captured, capturedEnc = query, enc
		resp := wecomCall(ctx, c, r, http.MethodPost, query, envelope(enc))
		if resp.StatusCode != http.StatusOK {
			c.Errorf("status %d: %s", resp.StatusCode, resp.Body)
		}
		got, _ := take(ctx, q, "backupflow-work")
		if len(got) != 1 {
			c.Errorf("%d jobs queued; want one", len(got))
		} else {
			firstJob = jobID(got[0])
		}
	})
	check(t, wecomClient, "app callback answer in the conversation (encrypted passive reply)", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := wecomQuery(c, msg("7002", "help"), time.Now(), "22222")
		resp := wecomCall(ctx, c, r, http.MethodPost, query, envelope(enc))
		var reply struct {
			Encrypt string `xml:"Encrypt"`
		}
		if err := xml.Unmarshal([]byte(resp.Body), &reply); err != nil || reply.Encrypt == "" {
			c.Errorf("no encrypted passive reply in the callback response: %d %q", resp.StatusCode, resp.Body)
			return
		}
		_, plain, err := util.DecryptMsg(wecomCorp, reply.Encrypt, wecomAESKey)
		var m struct {
			MsgType string `xml:"MsgType"`
			Content string `xml:"Content"`
		}
		if err != nil || xml.Unmarshal(plain, &m) != nil || m.Content == "" {
			c.Errorf("the passive reply does not decrypt to a text message: %v %q", err, plain)
		}
	})
	check(t, wecomClient, "resend of the same callback → no second job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		wecomCall(ctx, c, r, http.MethodPost, captured, envelope(capturedEnc))
		got, _ := take(ctx, q, "backupflow-work")
		if n := otherJobs(got, firstJob); n != 0 {
			c.Errorf("a resend queued %d new jobs", n)
		}
	})
	check(t, wecomClient, "tampered signature → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := wecomQuery(c, msg("7003", "backup cdb-c1nl9rpv"), time.Now(), "33333")
		query.Set("msg_signature", strings.Repeat("0", 40))
		if resp := wecomCall(ctx, c, r, http.MethodPost, query, envelope(enc)); resp.StatusCode == http.StatusOK {
			c.Errorf("a bad signature was answered 200")
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("a tampered callback queued %d jobs", len(got))
		}
	})
	check(t, wecomClient, "URL verification echoes the decrypted echostr", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := wecomQuery(c, "1616140317555161061", time.Now(), "44444")
		query.Set("echostr", enc)
		if resp := wecomCall(ctx, c, r, http.MethodGet, query, ""); resp.StatusCode != http.StatusOK || resp.Body != "1616140317555161061" {
			c.Errorf("verification answered %d %q", resp.StatusCode, resp.Body)
		}
	})
	check(t, wecomClient, "a captured message replayed as echostr is not decrypted", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := wecomQuery(c, msg("7004", "backup cdb-c1nl9rpv"), time.Now(), "55555")
		query.Set("echostr", enc)
		if resp := wecomCall(ctx, c, r, http.MethodGet, query, ""); strings.Contains(resp.Body, "cdb-c1nl9rpv") {
			c.Errorf("GET ?echostr=<a message's Encrypt> returned the decrypted message: %q", resp.Body)
		}
	})
}
