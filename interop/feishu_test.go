package interop_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Feishu's Go SDK (github.com/larksuite/oapi-sdk-go/v3) and the community
// client (github.com/go-lark/lark, /v2) are not served by the module proxy
// here (403 on their version lists), so Feishu's side is built from the
// documented scheme (facts/chatops.md §5.1), and the crypto below is first
// held to Feishu's published decrypt vector (§10) as a case of its own.
const (
	feishuClient    = "feishu (documented scheme)"
	feishuEncrypt   = "interopFeishuEncryptKey"
	feishuVerify    = "interopFeishuVerificationToken"
	feishuAppID     = "cli_interop0001"
	feishuAppSecret = "interopFeishuAppSecret"
	feishuUser      = "ou_interop0001"
)

// feishuKey is the AES key Feishu derives: SHA-256 of the Encrypt Key.
func feishuKey(encryptKey string) []byte {
	k := sha256.Sum256([]byte(encryptKey))
	return k[:]
}

// feishuEncryptBody is what Feishu sends with an Encrypt Key set:
// base64(IV ‖ AES-256-CBC(PKCS#7 16 bytes, plain)), with a random IV.
func feishuEncryptBody(encryptKey string, plain []byte) string {
	key := feishuKey(encryptKey)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	pt := append(append([]byte(nil), plain...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, aes.BlockSize+len(pt))
	_, _ = rand.Read(out[:aes.BlockSize])
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], pt)
	return base64.StdEncoding.EncodeToString(out)
}

// feishuDecrypt is the documented inverse, used here only to hold the
// encryption above to Feishu's published vector.
func feishuDecrypt(encryptKey, enc string) ([]byte, error) {
	buf, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(buf) < 2*aes.BlockSize || len(buf)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("not IV plus whole blocks: %v", err)
	}
	block, _ := aes.NewCipher(feishuKey(encryptKey))
	pt := make([]byte, len(buf)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, buf[:aes.BlockSize]).CryptBlocks(pt, buf[aes.BlockSize:])
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(pt[len(pt)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errors.New("bad PKCS#7 padding")
	}
	return pt[:len(pt)-pad], nil
}

// feishuRequest is an event delivery as Feishu makes it: the encrypted body
// and the X-Lark-* headers, signature = hex(SHA-256(ts + nonce + encryptKey
// + body)), a plain hash.
func feishuRequest(plain []byte, ts time.Time, nonce string) (map[string]string, string) {
	b, _ := json.Marshal(map[string]string{"encrypt": feishuEncryptBody(feishuEncrypt, plain)})
	stamp := strconv.FormatInt(ts.Unix(), 10)
	sum := sha256.Sum256([]byte(stamp + nonce + feishuEncrypt + string(b)))
	return map[string]string{"content-type": "application/json; charset=utf-8",
		"x-lark-request-timestamp": stamp, "x-lark-request-nonce": nonce,
		"x-lark-signature": hex.EncodeToString(sum[:])}, string(b)
}

// feishuMessage is an im.message.receive_v1 event (schema 2.0), as the
// Feishu docs show it: content is a JSON string, the mention a placeholder.
func feishuMessage(eventID, messageID, text string) []byte {
	content, _ := json.Marshal(map[string]string{"text": "@_user_1 " + text})
	b, _ := json.Marshal(map[string]any{
		"schema": "2.0",
		"header": map[string]string{"event_id": eventID, "event_type": "im.message.receive_v1",
			"create_time": strconv.FormatInt(time.Now().UnixMilli(), 10), "token": feishuVerify,
			"app_id": feishuAppID, "tenant_key": "tenant-interop"},
		"event": map[string]any{
			"sender": map[string]any{"sender_id": map[string]string{"open_id": feishuUser, "user_id": "interop", "union_id": "on_interop"},
				"sender_type": "user", "tenant_key": "tenant-interop"},
			"message": map[string]any{"message_id": messageID, "root_id": "", "parent_id": "", "chat_id": "oc_interop",
				"chat_type": "group", "message_type": "text", "content": string(content),
				"mentions": []map[string]any{{"key": "@_user_1", "id": map[string]string{"open_id": "ou_bot"}, "name": "BackupBot"}}},
		},
	})
	return b
}

// openPlatform plays Feishu's Open Platform for the two calls the product
// makes, as documented: the tenant access token (app id and secret checked)
// and the IM reply (bearer token checked; body {"msg_type":"text",
// "content":"{\"text\":…}"}). Replies are kept by the message replied to.
type openPlatform struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies map[string][]string
	bad     []string // requests that do not match the documented shape
}

const feishuTenantToken = "t-interop-tenant-token"

func newOpenPlatform(t *testing.T) *openPlatform {
	p := &openPlatform{replies: map[string][]string{}}
	answer := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(v)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal":
			var in struct {
				AppID     string `json:"app_id"`
				AppSecret string `json:"app_secret"`
			}
			if json.Unmarshal(body, &in) != nil || in.AppID != feishuAppID || in.AppSecret != feishuAppSecret {
				p.bad = append(p.bad, "token request with wrong credentials: "+string(body))
				answer(w, map[string]any{"code": 10014, "msg": "app secret invalid"})
				return
			}
			answer(w, map[string]any{"code": 0, "msg": "ok", "tenant_access_token": feishuTenantToken, "expire": 7200})
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/open-apis/im/v1/messages/") && strings.HasSuffix(r.URL.Path, "/reply"):
			id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/open-apis/im/v1/messages/"), "/reply")
			if r.Header.Get("Authorization") != "Bearer "+feishuTenantToken {
				p.bad = append(p.bad, "reply without the tenant token")
				w.WriteHeader(http.StatusUnauthorized)
				answer(w, map[string]any{"code": 99991663, "msg": "invalid access token"})
				return
			}
			var in struct {
				MsgType string `json:"msg_type"`
				Content string `json:"content"`
			}
			var content struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(body, &in) != nil || in.MsgType != "text" || json.Unmarshal([]byte(in.Content), &content) != nil || content.Text == "" {
				p.bad = append(p.bad, "reply body is not a text message: "+string(body))
				answer(w, map[string]any{"code": 230001, "msg": "invalid message content"})
				return
			}
			p.replies[id] = append(p.replies[id], content.Text)
			answer(w, map[string]any{"code": 0, "msg": "success", "data": map[string]string{"message_id": "om_reply_" + id}})
		default:
			p.bad = append(p.bad, r.Method+" "+r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *openPlatform) repliesTo(id string) ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.replies[id]...), append([]string(nil), p.bad...)
}

func feishuCall(ctx context.Context, c *R, r *rie, hdr map[string]string, body string) events.LambdaFunctionURLResponse {
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/feishu", Headers: hdr, Body: body,
		RequestContext: events.LambdaFunctionURLRequestContext{DomainName: "abc.lambda-url.us-east-1.on.aws",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: http.MethodPost, Path: "/feishu", SourceIP: "203.0.113.9"}}}
	payload, _ := json.Marshal(ev)
	inv, err := r.invoke(ctx, payload)
	var resp events.LambdaFunctionURLResponse
	if err != nil || inv.err != nil || json.Unmarshal(inv.body, &resp) != nil {
		c.Errorf("invoke: %v %s", err, inv)
	}
	return resp
}

// TestFeishuThroughChatopsLambda: Feishu event deliveries built by the
// documented scheme, through the chatops bootstrap under the RIE; answers
// reach the conversation through the IM reply API, played by openPlatform.
func TestFeishuThroughChatopsLambda(t *testing.T) {
	check(t, feishuClient, "the scheme built here decrypts Feishu's published vector", func(c *R) {
		// Feishu's docs: Encrypt Key "test key" and this ciphertext decrypt
		// to "hello world" (facts/chatops.md §10).
		got, err := feishuDecrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
		if err != nil || string(got) != "hello world" {
			c.Errorf("published vector decrypts to %q, %v; want \"hello world\"", got, err)
		}
		if back, err := feishuDecrypt("test key", feishuEncryptBody("test key", []byte("hello world"))); err != nil || string(back) != "hello world" {
			c.Errorf("encrypt is not decrypt's inverse: %q, %v", back, err)
		}
	})
	e := startEmulator(t)
	op := newOpenPlatform(t)
	env := lambdaEnv(e, "feishu")
	env["BACKUPFLOW_FEISHU_ENCRYPT_KEY"] = feishuEncrypt
	env["BACKUPFLOW_FEISHU_VERIFICATION_TOKEN"] = feishuVerify
	env["BACKUPFLOW_FEISHU_APP_ID"] = feishuAppID
	env["BACKUPFLOW_FEISHU_APP_SECRET"] = feishuAppSecret
	env["BACKUPFLOW_FEISHU_API"] = op.srv.URL
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "feishu:" + feishuUser
	env["BACKUPFLOW_CHAT_IMPORT_USERS"] = "feishu:" + feishuUser
	r := startRIE(t, "chatops", env)
	q := sqsClient(e)
	jobs := func(ctx context.Context) []events.SQSMessage {
		got, _ := take(ctx, q, "backupflow-work")
		return got
	}
	check(t, feishuClient, "url_verification (encrypted) → the challenge echoed", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		plain, _ := json.Marshal(map[string]string{"challenge": "ajls384kdjx98XX", "token": feishuVerify, "type": "url_verification"})
		hdr, body := feishuRequest(plain, time.Now(), "n-verify")
		resp := feishuCall(ctx, c, r, hdr, body)
		var got struct {
			Challenge string `json:"challenge"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &got) != nil || got.Challenge != "ajls384kdjx98XX" {
			c.Errorf("answered %d %q; want {\"challenge\":\"ajls384kdjx98XX\"}", resp.StatusCode, resp.Body)
		}
	})
	var firstHdr map[string]string
	var firstBody, firstJob string
	check(t, feishuClient, "backup → one job and a reply in the conversation (IM reply API)", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		jobs(ctx)
		firstHdr, firstBody = feishuRequest(feishuMessage("ev-interop-0001", "om_interop0001", "backup cdb-c1nl9rpv"), time.Now(), "n-0001")
		if resp := feishuCall(ctx, c, r, firstHdr, firstBody); resp.StatusCode != http.StatusOK {
			c.Errorf("status %d: %s", resp.StatusCode, resp.Body)
		}
		got := jobs(ctx)
		if len(got) != 1 || !strings.Contains(got[0].Body, "cdb-c1nl9rpv") {
			c.Errorf("%d jobs queued; want one for cdb-c1nl9rpv", len(got))
		} else {
			firstJob = jobID(got[0])
		}
		replies, bad := op.repliesTo("om_interop0001")
		if len(replies) != 1 || !strings.Contains(replies[0], "queued") {
			c.Errorf("replies to the command's message: %q; want one naming the queued job (off-spec calls: %q)", replies, bad)
		}
	})
	check(t, feishuClient, "re-push of the same event → no second job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		if firstHdr == nil {
			c.Errorf("no first event")
			return
		}
		feishuCall(ctx, c, r, firstHdr, firstBody)
		if n := otherJobs(jobs(ctx), firstJob); n != 0 {
			c.Errorf("a re-push queued %d new jobs", n)
		}
	})
	check(t, feishuClient, "stale timestamp (10 min) → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		hdr, body := feishuRequest(feishuMessage("ev-interop-0002", "om_interop0002", "backup cdb-c1nl9rpv"), time.Now().Add(-10*time.Minute), "n-0002")
		if resp := feishuCall(ctx, c, r, hdr, body); resp.StatusCode == http.StatusOK {
			c.Errorf("a stale event was answered 200")
		}
		if got := jobs(ctx); len(got) != 0 {
			c.Errorf("a stale event queued %d jobs", len(got))
		}
	})
	check(t, feishuClient, "tampered body → no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		hdr, _ := feishuRequest(feishuMessage("ev-interop-0003", "om_interop0003", "backup cdb-c1nl9rpv"), time.Now(), "n-0003")
		// The signature of one event over the ciphertext of another.
		_, other := feishuRequest(feishuMessage("ev-interop-0004", "om_interop0004", "backup cdb-k2m4p6r8"), time.Now(), "n-0003")
		if resp := feishuCall(ctx, c, r, hdr, other); resp.StatusCode == http.StatusOK {
			c.Errorf("a tampered event was answered 200")
		}
		if got := jobs(ctx); len(got) != 0 {
			c.Errorf("a tampered event queued %d jobs", len(got))
		}
	})
	check(t, feishuClient, "import → confirm <code> queues the import", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		jobs(ctx)
		hdr, body := feishuRequest(feishuMessage("ev-interop-0005", "om_interop0005",
			"import cos://backups-1250000000/imports/orders.bak to mssql-njj2mtpl"), time.Now(), "n-0005")
		feishuCall(ctx, c, r, hdr, body)
		replies, bad := op.repliesTo("om_interop0005")
		var m []string
		if len(replies) == 1 {
			m = regexp.MustCompile(`confirm\s+([A-Za-z0-9-]+)`).FindStringSubmatch(replies[0])
		}
		if m == nil {
			c.Errorf("the import is answered %q, with no confirm code (off-spec calls: %q)", replies, bad)
			return
		}
		if got := jobs(ctx); len(got) != 0 {
			c.Errorf("an unconfirmed import queued %d jobs", len(got))
		}
		hdr, body = feishuRequest(feishuMessage("ev-interop-0006", "om_interop0006", "confirm "+m[1]), time.Now(), "n-0006")
		feishuCall(ctx, c, r, hdr, body)
		if replies, _ := op.repliesTo("om_interop0006"); len(replies) != 1 || !strings.Contains(replies[0], "queued") {
			c.Errorf("confirm answered %q; want the queued import", replies)
		}
		if got := jobs(ctx); len(got) != 1 || !strings.Contains(got[0].Body, "import") {
			c.Errorf("confirm queued %d jobs; want the import", len(got))
		}
	})
}
