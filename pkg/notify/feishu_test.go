package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	feishuToken  = "0b6a1f9e-8c7d-4e5f-a1b2-c3d4e5f6a7b8"
	feishuSecret = "qhQ7dG3sFeishuSecretValue9"
)

type feishuWireText struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

type feishuWire struct {
	Timestamp string `json:"timestamp"`
	Sign      string `json:"sign"`
	MsgType   string `json:"msg_type"`
	Card      struct {
		Header struct {
			Title    feishuWireText `json:"title"`
			Template string         `json:"template"`
		} `json:"header"`
		Elements []feishuWireText `json:"elements"`
	} `json:"card"`
}

// feishuBot answers like a Feishu custom bot with signing on: timestamp in
// seconds and sign = base64(HMAC-SHA256(key = ts+"\n"+secret, msg = "")) in
// the body, else code 19021; bodies over 20 KB are refused.
func feishuBot(secret string, got *feishuWire) func(t *testing.T, r request) (int, string) {
	return func(t *testing.T, r request) (int, string) {
		if r.Path != "/open-apis/bot/v2/hook/"+feishuToken {
			t.Errorf("feishu path = %q", r.Path)
		}
		if len(r.Body) > 20000 {
			t.Errorf("body is %d bytes; limit 20 KB", len(r.Body))
			return http.StatusOK, `{"code":9499,"msg":"request body too large"}`
		}
		decodeJSON(t, r.Body, got)
		if got.MsgType != "interactive" || len(got.Card.Elements) != 1 || got.Card.Elements[0].Tag != "markdown" ||
			got.Card.Header.Title.Tag != "plain_text" || !utf8.ValidString(got.Card.Elements[0].Content) {
			t.Errorf("bad card: %+v", got)
		}
		if got.Timestamp != strconv.FormatInt(fixedNow.Unix(), 10) {
			t.Errorf("timestamp = %q; want the injected clock in seconds", got.Timestamp)
		}
		mac := hmac.New(sha256.New, []byte(got.Timestamp+"\n"+secret))
		if got.Sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			return http.StatusOK, `{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}`
		}
		return http.StatusOK, `{"code":0,"data":{},"msg":"success"}`
	}
}

func TestFeishuSign_KeyIsTheStringToSign(t *testing.T) {
	ts := strconv.FormatInt(fixedNow.Unix(), 10)
	swapped := hmac.New(sha256.New, []byte(feishuSecret))
	swapped.Write([]byte(ts + "\n" + feishuSecret))
	if feishuSign(feishuSecret, ts) == base64.StdEncoding.EncodeToString(swapped.Sum(nil)) {
		t.Errorf("feishuSign matches the DingTalk-style formula; key and message are swapped")
	}
}

func TestFeishu_SendSigned(t *testing.T) {
	specs := []string{
		"feishu:" + feishuToken + "?secret=" + feishuSecret,
		"feishu:https://open.feishu.cn/open-apis/bot/v2/hook/" + feishuToken + "?secret=" + feishuSecret,
		"lark:" + feishuToken + "?secret=" + feishuSecret,
	}
	for _, spec := range specs {
		var got feishuWire
		srv := newPlatform(t, feishuBot(feishuSecret, &got))
		err := mustParse(t, spec, opts(srv)).Send(context.Background(), Message{
			Level: Failure, Title: "Backup failed", Text: "error <timeout>", JobID: "42", Mention: "ou_abc",
		})
		if err != nil {
			t.Fatalf("%s: Send = %v", strings.SplitN(spec, ":", 2)[0], err)
		}
		if got.Card.Header.Title.Content != "Backup failed" || got.Card.Header.Template != "red" {
			t.Errorf("header = %+v", got.Card.Header)
		}
		want := "error <timeout>\n\n**Job**: 42\n\n<at id=ou_abc></at>"
		if c := got.Card.Elements[0].Content; c != want {
			t.Errorf("content = %q; want %q", c, want)
		}
	}
}

func TestFeishu_Failures(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		reply     string
		wantCode  string
		retryable bool
	}{
		{"wrong secret", "feishu:" + feishuToken + "?secret=not-the-secret", "", "19021", false},
		{"throttled", "feishu:" + feishuToken + "?secret=" + feishuSecret, `{"code":11232,"msg":"frequency limited"}`, "11232", true},
		{"old style error", "feishu:" + feishuToken + "?secret=" + feishuSecret, `{"StatusCode":19001,"StatusMessage":"param invalid"}`, "19001", false},
		{"not JSON", "feishu:" + feishuToken + "?secret=" + feishuSecret, `oops`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got feishuWire
			bot := feishuBot(feishuSecret, &got)
			srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
				status, body := bot(t, r)
				if tt.reply != "" {
					body = tt.reply
				}
				return status, body
			})
			err := mustParse(t, tt.spec, opts(srv)).Send(context.Background(), Message{Title: "t"})
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode || e.Retryable() != tt.retryable {
				t.Fatalf("Send = %v; want *Error code %q retryable %v", err, tt.wantCode, tt.retryable)
			}
		})
	}
}

func TestFeishu_BodyLimit(t *testing.T) {
	var got feishuWire
	srv := newPlatform(t, feishuBot(feishuSecret, &got))
	// Quotes and newlines double in JSON; the body limit is on the encoding.
	text := strings.Repeat("\"引号\"\n", 5000)
	m := Message{Level: Success, Title: strings.Repeat("长", 300), Text: text, Mention: "ou_x"}
	if err := mustParse(t, "feishu:"+feishuToken+"?secret="+feishuSecret, opts(srv)).Send(context.Background(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	reqs := srv.requests()
	if n := len(reqs[0].Body); n > 20000 || n < 19000 {
		t.Errorf("body is %d bytes; want just under 20000", n)
	}
	if c := got.Card.Elements[0].Content; !strings.HasSuffix(c, ellipsis+"\n\n<at id=ou_x></at>") {
		t.Errorf("content should end with an ellipsis and the mention: ...%q", c[len(c)-40:])
	}
	if units(got.Card.Header.Title.Content) > feishuTitleMax {
		t.Errorf("title not truncated")
	}
}
