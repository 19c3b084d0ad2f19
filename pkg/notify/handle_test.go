package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// A reply handle comes inside a chat message (a DingTalk body is not even
// signed), so only the platform's own https host and path are posted to.
func TestReplyHandle_onlyThePlatformsOwn(t *testing.T) {
	for _, tt := range []struct {
		platform, handle string
		ok               bool
	}{
		{"slack", "https://hooks.slack.com/commands/T0/1/abc", true},
		{"slack", "https://HOOKS.slack.com/commands/T0/1/abc", true},
		{"slack", "http://hooks.slack.com/commands/T0/1/abc", false},
		{"slack", "https://hooks.slack.com/services/T0/B0/x", false},
		{"slack", "https://hooks.slack.com.evil.example/commands/x", false},
		{"slack", "https://user:pw@hooks.slack.com/commands/x", false},
		{"slack", "https://hooks.slack.com:8443/commands/x", false},
		{"dingtalk", "https://oapi.dingtalk.com/robot/sendBySession?session=s1", true},
		{"dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", false},
		{"dingtalk", "https://127.0.0.1/robot/sendBySession?session=s1", false},
		{"wecom", "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=c1", true},
		{"wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", false},
		{"feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x", false},
		{"hook", "https://example.com/reply", false},
	} {
		_, err := ReplyHandle(tt.platform, tt.handle, nil)
		if (err == nil) != tt.ok {
			t.Errorf("ReplyHandle(%s, %s) = %v; want ok=%v", tt.platform, tt.handle, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrHandle) || strings.Contains(err.Error(), tt.handle)) {
			t.Errorf("error %q: want ErrHandle, without the handle", err)
		}
	}
}

// Posted through an endpoint override, each platform gets its body shape;
// a refusal's error names neither the handle nor its code.
func TestReplyHandle_postsAndRedacts(t *testing.T) {
	for _, tt := range []struct {
		platform, handle, want string
		status                 int
		answer                 string
		ok                     bool
	}{
		{"slack", "https://hooks.slack.com/commands/T0/1/sekrit0001Slack24chars", `"response_type":"in_channel"`, 200, `{"ok":true}`, true},
		{"slack", "https://hooks.slack.com/commands/T0/1/sekrit0001Slack24chars", `"replace_original":false`, 200, "ok", true},
		{"slack", "https://hooks.slack.com/commands/T0/1/sekrit0001Slack24chars", "", 404, "expired_url /commands/T0/1/sekrit0001Slack24chars", false},
		{"dingtalk", "https://oapi.dingtalk.com/robot/sendBySession?session=sekrit0002", `"msgtype":"markdown"`, 200, `{"errcode":0,"errmsg":"ok"}`, true},
		{"dingtalk", "https://oapi.dingtalk.com/robot/sendBySession?session=sekrit0002", "", 200, `{"errcode":300001,"errmsg":"session sekrit0002 expired"}`, false},
		{"wecom", "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=sekrit0003", `"msgtype":"markdown"`, 200, `{"errcode":0,"errmsg":"ok"}`, true},
	} {
		p := newPlatform(t, func(t *testing.T, r request) (int, string) { return tt.status, tt.answer })
		s, err := ReplyHandle(tt.platform, tt.handle, &Options{Now: clock, Endpoints: map[string]string{tt.platform: p.URL}})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), Message{Title: "Backup of cdb-1 succeeded", JobID: "j1", Mention: "u1"})
		if (err == nil) != tt.ok {
			t.Errorf("%s: Send = %v; want ok=%v", tt.platform, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "sekrit") {
			t.Errorf("%s: error %q shows the handle", tt.platform, err)
		}
		if strings.Contains(s.(interface{ String() string }).String(), "sekrit") {
			t.Errorf("%s: String shows the handle", tt.platform)
		}
		if len(p.reqs) != 1 || p.reqs[0].Method != http.MethodPost || !strings.Contains(string(p.reqs[0].Body), tt.want) {
			t.Errorf("%s: requests %+v; want one POST with %s", tt.platform, p.reqs, tt.want)
		}
		if len(p.reqs) == 1 && !strings.Contains(p.reqs[0].Path+"?"+p.reqs[0].Query, "sekrit") {
			t.Errorf("%s: posted to %s, not the handle's path and query", tt.platform, p.reqs[0].Path)
		}
	}
}
