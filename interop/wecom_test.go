package interop_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
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
	// The smart robot has its own token and key; its receiveid is "".
	robotToken  = "interopWeComRobotToken"
	robotAESKey = "InteropWeComRobotEncodingAESKey0123456789ab" // 43 characters
)

// wecomQuery encrypts plain with silenceper/wechat's WeCom message crypto
// and signs it as WeCom does (SHA1 over the sorted token, timestamp, nonce,
// ciphertext), returning the query and the ciphertext.
func wecomQuery(c *R, plain string, ts time.Time, nonce string) (url.Values, string) {
	return wecomSigned(c, wecomToken, wecomAESKey, wecomCorp, plain, ts, nonce)
}

// robotQuery is wecomQuery for the smart robot (its key, token and the
// empty receiveid).
func robotQuery(c *R, plain string, ts time.Time, nonce string) (url.Values, string) {
	return wecomSigned(c, robotToken, robotAESKey, "", plain, ts, nonce)
}

func wecomSigned(c *R, token, aesKey, receiveID, plain string, ts time.Time, nonce string) (url.Values, string) {
	enc, err := util.EncryptMsg([]byte(util.RandomStr(16)), []byte(plain), receiveID, aesKey)
	if err != nil {
		c.Errorf("encrypt: %v", err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	return url.Values{"msg_signature": {util.Signature(token, stamp, nonce, string(enc))},
		"timestamp": {stamp}, "nonce": {nonce}}, string(enc)
}

func wecomEvent(method string, q url.Values, body string) []byte {
	ctype := "text/xml"
	if strings.HasPrefix(body, "{") {
		ctype = "application/json"
	}
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/wecom", RawQueryString: q.Encode(),
		Headers: map[string]string{"content-type": ctype}, Body: body,
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

// decryptRobot reads a smart-robot ciphertext (receiveid ""). It is done
// here with the standard library because silenceper/wechat's DecryptMsg
// cannot: its AESDecryptMsg requires a non-empty receiveid after the
// message (len(plaintext) > 20+msg_len) and answers "msg length too large"
// for every robot message. The layout is WeCom's (facts/chatops.md §3.2):
// AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes, random(16) ‖ msg_len ‖
// msg ‖ receiveid.
func decryptRobot(enc string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(robotAESKey + "=")
	if err != nil {
		return nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(ct) == 0 || len(ct)%32 != 0 {
		return nil, fmt.Errorf("ciphertext is not whole 32-byte blocks: %v", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > 32 || pad > len(pt)-20 {
		return nil, fmt.Errorf("bad padding %d", pad)
	}
	pt = pt[:len(pt)-pad]
	n := int(binary.BigEndian.Uint32(pt[16:20]))
	if 20+n > len(pt) {
		return nil, fmt.Errorf("msg_len %d past the plaintext", n)
	}
	if rid := pt[20+n:]; len(rid) != 0 {
		return nil, fmt.Errorf("receiveid %q; a robot's is empty", rid)
	}
	return pt[20 : 20+n], nil
}

// TestWeComThroughChatopsLambda: WeCom app callbacks and URL verification
// built with silenceper/wechat's crypto, through the chatops bootstrap.
func TestWeComThroughChatopsLambda(t *testing.T) {
	e := startEmulator(t)
	env := lambdaEnv(e, "wecom")
	env["BACKUPFLOW_WECOM_TOKEN"] = wecomToken
	env["BACKUPFLOW_WECOM_AES_KEY"] = wecomAESKey
	env["BACKUPFLOW_WECOM_CORP_ID"] = wecomCorp
	env["BACKUPFLOW_WECOM_ROBOT_TOKEN"] = robotToken
	env["BACKUPFLOW_WECOM_ROBOT_AES_KEY"] = robotAESKey
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "wecom:zhangsan,wecom:lisi"
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
	// The smart robot (智能机器人) on the same path: JSON callbacks, its own
	// token and key, receiveid "".
	robotMsg := func(id, text string) string {
		b, _ := json.Marshal(map[string]any{"msgid": id, "aibotid": "AIBOTINTEROP", "chatid": "CHATINTEROP",
			"chattype": "group", "from": map[string]string{"userid": "lisi"}, "msgtype": "text",
			"text":         map[string]string{"content": "@BackupBot " + text},
			"response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=SECRET" + id})
		return string(b)
	}
	robotEnvelope := func(enc string) string {
		b, _ := json.Marshal(map[string]string{"encrypt": enc})
		return string(b)
	}
	var robotJob string
	var robotCaptured url.Values
	var robotEnc string
	check(t, wecomClient, "robot callback backup → one job and a stream reply in the conversation", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_, _ = take(ctx, q, "backupflow-work")
		query, enc := robotQuery(c, robotMsg("robot-8001", "backup cdb-c1nl9rpv"), time.Now(), "66666")
		robotCaptured, robotEnc = query, enc
		resp := wecomCall(ctx, c, r, http.MethodPost, query, robotEnvelope(enc))
		var reply struct {
			Encrypt      string `json:"encrypt"`
			MsgSignature string `json:"msgsignature"`
			Timestamp    int64  `json:"timestamp"`
			Nonce        string `json:"nonce"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &reply) != nil || reply.Encrypt == "" {
			c.Errorf("no encrypted passive reply: %d %q", resp.StatusCode, resp.Body)
		} else {
			// The reply is signed as WeCom signs (so the platform can check
			// it) and decrypts, for receiveid "", to a finished stream.
			if want := util.Signature(robotToken, strconv.FormatInt(reply.Timestamp, 10), reply.Nonce, reply.Encrypt); reply.MsgSignature != want {
				c.Errorf("passive reply signature %q; silenceper/wechat computes %q", reply.MsgSignature, want)
			}
			plain, err := decryptRobot(reply.Encrypt)
			var m struct {
				MsgType string `json:"msgtype"`
				Stream  struct {
					ID      string `json:"id"`
					Finish  bool   `json:"finish"`
					Content string `json:"content"`
				} `json:"stream"`
			}
			if err != nil || json.Unmarshal(plain, &m) != nil || m.MsgType != "stream" || !m.Stream.Finish || !strings.Contains(m.Stream.Content, "queued") {
				c.Errorf("the passive reply is not a finished stream naming the queued job: %v %q", err, plain)
			}
		}
		got, _ := take(ctx, q, "backupflow-work")
		if len(got) != 1 || !strings.Contains(got[0].Body, "cdb-c1nl9rpv") {
			c.Errorf("%d jobs queued; want one for cdb-c1nl9rpv", len(got))
		} else {
			robotJob = jobID(got[0])
		}
	})
	check(t, wecomClient, "robot resend of the same callback → no second job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		if robotCaptured == nil {
			c.Errorf("no first callback")
			return
		}
		wecomCall(ctx, c, r, http.MethodPost, robotCaptured, robotEnvelope(robotEnc))
		got, _ := take(ctx, q, "backupflow-work")
		if n := otherJobs(got, robotJob); n != 0 {
			c.Errorf("a resend queued %d new jobs", n)
		}
	})
	check(t, wecomClient, "robot tampered signature → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := robotQuery(c, robotMsg("robot-8002", "backup cdb-c1nl9rpv"), time.Now(), "77777")
		query.Set("msg_signature", strings.Repeat("0", 40))
		if resp := wecomCall(ctx, c, r, http.MethodPost, query, robotEnvelope(enc)); resp.StatusCode == http.StatusOK {
			c.Errorf("a bad signature was answered 200")
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("a tampered callback queued %d jobs", len(got))
		}
	})
	check(t, wecomClient, "robot stale timestamp (10 min) → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := robotQuery(c, robotMsg("robot-8003", "backup cdb-c1nl9rpv"), time.Now().Add(-10*time.Minute), "88888")
		if resp := wecomCall(ctx, c, r, http.MethodPost, query, robotEnvelope(enc)); resp.StatusCode == http.StatusOK {
			c.Errorf("a stale callback was answered 200")
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("a stale callback queued %d jobs", len(got))
		}
	})
	check(t, wecomClient, "robot URL verification (receiveid \"\") echoes the decrypted echostr", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := robotQuery(c, "5739081726354817265", time.Now(), "99999")
		query.Set("echostr", enc)
		if resp := wecomCall(ctx, c, r, http.MethodGet, query, ""); resp.StatusCode != http.StatusOK || resp.Body != "5739081726354817265" {
			c.Errorf("verification answered %d %q", resp.StatusCode, resp.Body)
		}
	})
	check(t, wecomClient, "robot message replayed as echostr does not leak its response_url", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		query, enc := robotQuery(c, robotMsg("robot-8004", "backup cdb-c1nl9rpv"), time.Now(), "10101")
		query.Set("echostr", enc)
		if resp := wecomCall(ctx, c, r, http.MethodGet, query, ""); strings.Contains(resp.Body, "response_code") || strings.Contains(resp.Body, "cdb-c1nl9rpv") {
			c.Errorf("GET ?echostr=<a robot message's encrypt> returned the decrypted message: %q", resp.Body)
		}
	})
}
