package notify

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

const wecomKey = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"

type wecomWire struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

// checkWeCom validates a 消息推送 post: the key in the query, markdown type,
// content within 4096 bytes of valid UTF-8.
func checkWeCom(t *testing.T, r request) wecomWire {
	t.Helper()
	q, _ := url.ParseQuery(r.Query)
	if r.Method != http.MethodPost || r.Path != "/cgi-bin/webhook/send" || q.Get("key") != wecomKey {
		t.Errorf("wecom got %s %s?%s; want POST /cgi-bin/webhook/send?key=<key>", r.Method, r.Path, r.Query)
	}
	var m wecomWire
	decodeJSON(t, r.Body, &m)
	if m.MsgType != "markdown" {
		t.Errorf("msgtype = %q; want markdown", m.MsgType)
	}
	if n := len(m.Markdown.Content); n == 0 || n > 4096 || !utf8.ValidString(m.Markdown.Content) {
		t.Errorf("markdown.content is %d bytes (valid UTF-8: %v); want 1..4096", n, utf8.ValidString(m.Markdown.Content))
	}
	return m
}

func TestWeCom_Send(t *testing.T) {
	tests := []struct {
		name string
		spec string
	}{
		{"key", "wecom:" + wecomKey},
		{"full URL", "wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + wecomKey},
		{"bare URL", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + wecomKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got wecomWire
			srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
				got = checkWeCom(t, r)
				return http.StatusOK, `{"errcode":0,"errmsg":"ok"}`
			})
			err := mustParse(t, tt.spec, opts(srv)).Send(context.Background(), Message{
				Level: Success, Title: "备份完成", Text: "cdb-1 backed up",
				Fields: []Field{{"Size", "12 GiB"}}, JobID: "42", Mention: "zhangsan",
			})
			if err != nil {
				t.Fatalf("Send = %v", err)
			}
			want := "## <font color=\"info\">✅ 备份完成</font>\n\ncdb-1 backed up\n\n> **Size**: 12 GiB\n> **Job**: 42\n\n<@zhangsan>"
			if got.Markdown.Content != want {
				t.Errorf("content =\n%s\nwant\n%s", got.Markdown.Content, want)
			}
		})
	}
}

func TestWeCom_TruncatesBytes(t *testing.T) {
	var got wecomWire
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		got = checkWeCom(t, r)
		return http.StatusOK, `{"errcode":0,"errmsg":"ok"}`
	})
	// 3-byte characters offset by one ASCII byte, so a byte cut at 4096
	// would land inside a character.
	text := "x" + strings.Repeat("备", 3000)
	err := mustParse(t, "wecom:"+wecomKey, opts(srv)).Send(context.Background(), Message{Level: Failure, Title: "t", Text: text, Mention: "lisi"})
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	c := got.Markdown.Content
	if !strings.HasSuffix(c, ellipsis+"\n\n<@lisi>") {
		t.Errorf("content should end with the ellipsis and the mention: ...%q", c[len(c)-30:])
	}
	if len(c) < 4096-3 {
		t.Errorf("content is %d bytes; truncation wasted more than one character", len(c))
	}
}

func TestWeCom_Failures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantCode  string
		retryable bool
	}{
		{"bad key", http.StatusOK, `{"errcode":93000,"errmsg":"invalid webhook url, hint: [1] key ` + wecomKey + `"}`, "93000", false},
		{"too long", http.StatusOK, `{"errcode":40058,"errmsg":"markdown.content exceed max length 4096"}`, "40058", false},
		{"rate limited", http.StatusOK, `{"errcode":45009,"errmsg":"api freq out of limit"}`, "45009", true},
		{"not JSON", http.StatusOK, `<html>gateway</html>`, "", false},
		{"no errcode", http.StatusOK, `{"errmsg":"ok"}`, "", false},
		{"gateway error", http.StatusBadGateway, `bad gateway`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPlatform(t, func(t *testing.T, r request) (int, string) { return tt.status, tt.body })
			err := mustParse(t, "wecom:"+wecomKey, opts(srv)).Send(context.Background(), Message{Title: "t"})
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode || e.Retryable() != tt.retryable {
				t.Fatalf("Send = %#v; want *Error with code %q, retryable %v", err, tt.wantCode, tt.retryable)
			}
			if strings.Contains(err.Error(), wecomKey) {
				t.Errorf("error %q leaks the key echoed by the platform", err)
			}
		})
	}
}

// Issue 14 item 9: a message whose fields already hold the job (as every
// outcome's do) shows the Job line once on the markdown platforms.
func TestMarkdown_jobLineOnce(t *testing.T) {
	m := Message{Level: Failure, Title: "Backup of cdb-1 failed", JobID: "j-42",
		Fields: []Field{{"Instance", "cdb-1"}, {"Job", "j-42"}}}
	for name, style := range map[string]mdStyle{"wecom": wecomStyle, "dingtalk": dingtalkStyle, "feishu": feishuStyle} {
		if n := strings.Count(style.render(m, 4096), "j-42"); n != 1 {
			t.Errorf("%s shows the job %d times:\n%s", name, n, style.render(m, 4096))
		}
	}
}
