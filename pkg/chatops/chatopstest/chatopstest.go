package chatopstest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/secret"
)

// Fixed test secrets. They sign every sample under events/chatops and are
// public: never configure them anywhere real.
const (
	SlackSigningSecret = "bf-test-slack-signing-secret-0001"

	WeComCorpID              = "wwbackupflowtest01"
	WeComAgentID             = "1000002"
	WeComToken               = "bfWeComAppToken01"
	WeComEncodingAESKey      = "BackupflowTestWeComAppEncodingAESKey0123456"
	WeComRobotToken          = "bfWeComRobotToken01"
	WeComRobotEncodingAESKey = "BackupflowTestWeComRobotEncodingAESKey01234"

	DingTalkAppSecret = "bf-test-dingtalk-app-secret-0001"
	DingTalkRobotCode = "dingbackupflowtestrobot"
	DingTalkCorpID    = "dingbackupflowtestcorp"

	FeishuEncryptKey        = "bf-test-feishu-encrypt-key-0001"
	FeishuVerificationToken = "bf-test-feishu-verification-token"
	FeishuAppID             = "cli_bftest0001"

	HookSecret = "bf-test-hook-secret-0001"
)

// Default identities used when a Message leaves them empty.
const (
	User = "tester"
	Team = "T0BACKUP"
	Chat = "C0BACKUP"
)

// SampleTime is the fixed "now" of every sample: 2026-11-22T08:00:00Z.
var SampleTime = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// Config enables every platform with the test secrets. Its policy suits the
// local demo: anyone may back up any instance, User on each platform may
// import after confirming.
func Config() chatops.Config {
	return chatops.Config{
		Slack: chatops.SlackConfig{SigningSecret: SlackSigningSecret},
		WeCom: chatops.WeComConfig{
			App:    chatops.WeComKeys{Token: WeComToken, EncodingAESKey: WeComEncodingAESKey},
			CorpID: WeComCorpID,
			Robot:  chatops.WeComKeys{Token: WeComRobotToken, EncodingAESKey: WeComRobotEncodingAESKey},
		},
		DingTalk: chatops.DingTalkConfig{AppSecret: DingTalkAppSecret, RobotCode: DingTalkRobotCode,
			CorpID: DingTalkCorpID, Senders: []string{"*"}},
		Feishu: chatops.FeishuConfig{EncryptKey: FeishuEncryptKey, VerificationToken: FeishuVerificationToken,
			AppID: FeishuAppID},
		Hook: chatops.HookConfig{Secret: secret.String(HookSecret)},
		Policy: chatops.Policy{
			Backup: chatops.Rule{Anyone: true},
			Import: chatops.Rule{Users: []string{
				"slack:" + User, "wecom:" + User, "dingtalk:" + User, "feishu:" + User, "hook:" + User}},
			Instances: []string{"*"},
		},
	}
}

// Message is one chat message to build a request from. Empty fields take
// the defaults above; ID should be unique per message (it is the platform's
// message id, so equal IDs are replays).
type Message struct {
	ID, User, Team, Chat, Text string
}

func (m Message) withDefaults() Message {
	if m.ID == "" {
		m.ID = "msg-" + hex.EncodeToString(sum(m.Text)[:6])
	}
	if m.User == "" {
		m.User = User
	}
	if m.Team == "" {
		m.Team = Team
	}
	if m.Chat == "" {
		m.Chat = Chat
	}
	return m
}

func sum(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func unix(now time.Time) string { return strconv.FormatInt(now.Unix(), 10) }

// readBody returns r's body and puts an identical reader back.
func readBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// SignSlack sets Slack's timestamp and v0 signature over r's current body.
func SignSlack(r *http.Request, signingSecret string, now time.Time) {
	ts := unix(now)
	r.Header.Set(chatops.HeaderSlackTimestamp, ts)
	r.Header.Set(chatops.HeaderSlackSignature, chatops.SlackSignature(signingSecret, ts, readBody(r)))
}

// Slack builds a signed slash command (/backupflow <text>).
func Slack(m Message, now time.Time) *http.Request {
	m = m.withDefaults()
	form := url.Values{
		"token": {"deprecated-verification-token"}, "team_id": {m.Team}, "team_domain": {"backupflow"},
		"channel_id": {m.Chat}, "channel_name": {"ops"}, "user_id": {m.User}, "user_name": {m.User},
		"command": {"/backupflow"}, "text": {m.Text}, "api_app_id": {"A0BACKUP"},
		"response_url": {"https://hooks.slack.com/commands/" + m.Team + "/1/" + m.ID},
		"trigger_id":   {m.ID},
	}
	r := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	SignSlack(r, SlackSigningSecret, now)
	return r
}

// EncryptWeCom encrypts msg the WeCom way: random(16) ‖ len(4) ‖ msg ‖
// receiveID, PKCS#7 to 32 bytes, AES-256-CBC with IV = key[:16], base64.
// random must be 16 bytes.
func EncryptWeCom(encodingAESKey, receiveID string, msg, random []byte) (string, error) {
	key, err := chatops.WeComKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	if len(random) != 16 {
		return "", fmt.Errorf("chatopstest: random must be 16 bytes")
	}
	var pt []byte
	pt = append(pt, random...)
	pt = binary.BigEndian.AppendUint32(pt, uint32(len(msg)))
	pt = append(pt, msg...)
	pt = append(pt, receiveID...)
	return base64.StdEncoding.EncodeToString(cbcEncrypt(key, key[:16], pt, 32)), nil
}

// EncryptFeishu encrypts plain the Feishu way: key = SHA-256(encryptKey),
// iv ‖ AES-256-CBC(PKCS#7 16), base64. iv must be 16 bytes.
func EncryptFeishu(encryptKey string, plain, iv []byte) string {
	key := sha256.Sum256([]byte(encryptKey))
	ct := cbcEncrypt(key[:], iv, plain, 16)
	return base64.StdEncoding.EncodeToString(append(append([]byte(nil), iv...), ct...))
}

func cbcEncrypt(key, iv, pt []byte, padBlock int) []byte {
	pad := padBlock - len(pt)%padBlock
	pt = append(pt, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // keys here are always 32 bytes
	}
	out := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, pt)
	return out
}

// WeComSignature is the msg_signature over sorted [token, ts, nonce, encrypt],
// computed independently of the package under test.
func WeComSignature(token, ts, nonce, encrypt string) string {
	p := []string{token, ts, nonce, encrypt}
	sort.Strings(p)
	s := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(s[:])
}

// SignWeCom sets msg_signature, timestamp and nonce on r's query for the
// encrypted value (Encrypt, encrypt or echostr).
func SignWeCom(r *http.Request, token, encrypt, nonce string, now time.Time) {
	q := r.URL.Query()
	ts := unix(now)
	q.Set("msg_signature", WeComSignature(token, ts, nonce, encrypt))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	r.URL.RawQuery = q.Encode()
	r.RequestURI = r.URL.RequestURI()
}

type cdata struct {
	V string `xml:",cdata"`
}

// WeComApp builds a signed, encrypted self-built app text message.
func WeComApp(m Message, now time.Time) *http.Request {
	m = m.withDefaults()
	inner, _ := xml.Marshal(struct {
		XMLName      xml.Name `xml:"xml"`
		ToUserName   cdata
		FromUserName cdata
		CreateTime   int64
		MsgType      cdata
		Content      cdata
		MsgId        string
		AgentID      string
	}{ToUserName: cdata{WeComCorpID}, FromUserName: cdata{m.User}, CreateTime: now.Unix(),
		MsgType: cdata{"text"}, Content: cdata{m.Text}, MsgId: m.ID, AgentID: WeComAgentID})
	enc, _ := EncryptWeCom(WeComEncodingAESKey, WeComCorpID, inner, sum("random:" + m.ID)[:16])
	outer, _ := xml.Marshal(struct {
		XMLName    xml.Name `xml:"xml"`
		ToUserName cdata
		AgentID    cdata
		Encrypt    cdata
	}{ToUserName: cdata{WeComCorpID}, AgentID: cdata{WeComAgentID}, Encrypt: cdata{enc}})
	r := httptest.NewRequest(http.MethodPost, "/wecom", bytes.NewReader(outer))
	r.Header.Set("Content-Type", "text/xml")
	SignWeCom(r, WeComToken, enc, nonce(m.ID), now)
	return r
}

func nonce(id string) string {
	return strconv.FormatUint(binary.BigEndian.Uint64(sum("nonce:" + id)[:8])%1e10, 10)
}

// WeComRobot builds a signed, encrypted smart-robot text callback; the text
// starts with the @mention WeCom puts in group messages.
func WeComRobot(m Message, now time.Time) *http.Request {
	m = m.withDefaults()
	inner, _ := json.Marshal(map[string]any{
		"msgid": m.ID, "aibotid": "AIBOTBACKUPFLOW", "chatid": m.Chat, "chattype": "group",
		"from":         map[string]string{"userid": m.User},
		"response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=" + m.ID,
		"msgtype":      "text", "text": map[string]string{"content": "@BackupBot " + m.Text},
	})
	enc, _ := EncryptWeCom(WeComRobotEncodingAESKey, "", inner, sum("random:" + m.ID)[:16])
	body, _ := json.Marshal(map[string]string{"encrypt": enc})
	r := httptest.NewRequest(http.MethodPost, "/wecom", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	SignWeCom(r, WeComRobotToken, enc, nonce(m.ID), now)
	return r
}

// WeComURLCheck builds the GET URL verification of the app (robot false) or
// the smart robot (robot true) echoing echo.
func WeComURLCheck(echo string, robot bool, now time.Time) *http.Request {
	token, key, rid := WeComToken, WeComEncodingAESKey, WeComCorpID
	if robot {
		token, key, rid = WeComRobotToken, WeComRobotEncodingAESKey, ""
	}
	enc, _ := EncryptWeCom(key, rid, []byte(echo), sum("random:" + echo)[:16])
	r := httptest.NewRequest(http.MethodGet, "/wecom?echostr="+url.QueryEscape(enc), nil)
	SignWeCom(r, token, enc, nonce(echo), now)
	return r
}

// SignDingTalk sets DingTalk's timestamp (ms) and sign headers.
func SignDingTalk(r *http.Request, appSecret string, now time.Time) {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(ts + "\n" + appSecret))
	r.Header.Set("timestamp", ts)
	r.Header.Set("sign", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// DingTalk builds a signed app-robot callback. The text keeps the leading
// space DingTalk leaves after removing the @mention.
func DingTalk(m Message, now time.Time) *http.Request {
	m = m.withDefaults()
	body, _ := json.Marshal(map[string]any{
		"msgtype": "text", "text": map[string]string{"content": " " + m.Text},
		"msgId": m.ID, "createAt": now.UnixMilli(), "conversationType": "2",
		"conversationId": m.Chat, "conversationTitle": "ops",
		"senderId": "$:LWCP_v1:$" + m.User, "senderNick": m.User, "senderCorpId": DingTalkCorpID,
		"senderStaffId": m.User, "isAdmin": false, "chatbotUserId": "$:LWCP_v1:$bot",
		"chatbotCorpId": DingTalkCorpID, "robotCode": DingTalkRobotCode, "isInAtList": true,
		"sessionWebhook":            "https://oapi.dingtalk.com/robot/sendBySession?session=" + m.ID,
		"sessionWebhookExpiredTime": now.Add(90 * time.Minute).UnixMilli(),
	})
	r := httptest.NewRequest(http.MethodPost, "/dingtalk", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	SignDingTalk(r, DingTalkAppSecret, now)
	return r
}

// SignFeishu sets X-Lark-Request-Timestamp, -Nonce and X-Lark-Signature over
// r's current body.
func SignFeishu(r *http.Request, encryptKey, nonce string, now time.Time) {
	ts := unix(now)
	h := sha256.New()
	h.Write([]byte(ts + nonce + encryptKey))
	h.Write(readBody(r))
	r.Header.Set(chatops.HeaderFeishuTimestamp, ts)
	r.Header.Set(chatops.HeaderFeishuNonce, nonce)
	r.Header.Set(chatops.HeaderFeishuSignature, hex.EncodeToString(h.Sum(nil)))
}

// Feishu builds a signed, encrypted im.message.receive_v1 event; the text
// starts with Feishu's @_user_1 mention placeholder.
func Feishu(m Message, now time.Time) *http.Request {
	m = m.withDefaults()
	content, _ := json.Marshal(map[string]string{"text": "@_user_1 " + m.Text})
	inner, _ := json.Marshal(map[string]any{
		"schema": "2.0",
		"header": map[string]string{"event_id": m.ID, "event_type": "im.message.receive_v1",
			"create_time": strconv.FormatInt(now.UnixMilli(), 10), "token": FeishuVerificationToken,
			"app_id": FeishuAppID, "tenant_key": m.Team},
		"event": map[string]any{
			"sender": map[string]any{"sender_id": map[string]string{"open_id": m.User},
				"sender_type": "user", "tenant_key": m.Team},
			"message": map[string]any{"message_id": "om_" + m.ID, "chat_id": m.Chat, "chat_type": "group",
				"message_type": "text", "content": string(content),
				"mentions": []map[string]any{{"key": "@_user_1", "name": "BackupBot",
					"id": map[string]string{"open_id": "ou_bot"}}}},
		},
	})
	return feishuRequest(inner, m.ID, now, true)
}

// FeishuURLVerification builds the encrypted url_verification request.
// Feishu's own SDK does not check a signature here; signed adds one anyway.
func FeishuURLVerification(challenge string, signed bool, now time.Time) *http.Request {
	inner, _ := json.Marshal(map[string]string{"challenge": challenge, "token": FeishuVerificationToken,
		"type": "url_verification"})
	return feishuRequest(inner, challenge, now, signed)
}

func feishuRequest(inner []byte, id string, now time.Time, signed bool) *http.Request {
	body, _ := json.Marshal(map[string]string{
		"encrypt": EncryptFeishu(FeishuEncryptKey, inner, sum("iv:" + id)[:16])})
	r := httptest.NewRequest(http.MethodPost, "/feishu", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if signed {
		SignFeishu(r, FeishuEncryptKey, nonce(id), now)
	}
	return r
}

// SignHook sets the generic hook headers: timestamp, delivery id and
// X-Hub-Signature-256 over timestamp "." delivery "." body.
func SignHook(r *http.Request, secret, delivery string, now time.Time) {
	ts := unix(now)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + delivery + "."))
	mac.Write(readBody(r))
	r.Header.Set(chatops.HeaderHookTimestamp, ts)
	r.Header.Set(chatops.HeaderHookDelivery, delivery)
	r.Header.Set(chatops.HeaderHubSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
}

// Hook builds a signed request for the generic /hook endpoint.
func Hook(m Message, now time.Time) *http.Request {
	m = m.withDefaults()
	body, _ := json.Marshal(map[string]string{"text": m.Text, "user": m.User, "team": m.Team, "chat": m.Chat})
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	SignHook(r, HookSecret, m.ID, now)
	return r
}
