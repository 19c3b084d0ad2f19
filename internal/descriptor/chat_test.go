package descriptor

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/config"
)

// platformSamples holds a valid value for every setting a chat platform
// reads. A platform variable the descriptors pass but this table lacks
// fails the test, so a new one gets a sample here.
var platformSamples = map[string]string{
	"BACKUPFLOW_SLACK_SIGNING_SECRET":      chatopstest.SlackSigningSecret,
	"BACKUPFLOW_WECOM_TOKEN":               chatopstest.WeComToken,
	"BACKUPFLOW_WECOM_AES_KEY":             chatopstest.WeComEncodingAESKey,
	"BACKUPFLOW_WECOM_CORP_ID":             chatopstest.WeComCorpID,
	"BACKUPFLOW_WECOM_ROBOT_TOKEN":         chatopstest.WeComRobotToken,
	"BACKUPFLOW_WECOM_ROBOT_AES_KEY":       chatopstest.WeComRobotEncodingAESKey,
	"BACKUPFLOW_WECOM_APP_SECRET":          "wecom-app-secret",
	"BACKUPFLOW_WECOM_AGENT_ID":            chatopstest.WeComAgentID,
	"BACKUPFLOW_WECOM_API":                 "https://qyapi.weixin.qq.com",
	"BACKUPFLOW_DINGTALK_APP_SECRET":       chatopstest.DingTalkAppSecret,
	"BACKUPFLOW_DINGTALK_ROBOT_CODE":       chatopstest.DingTalkRobotCode,
	"BACKUPFLOW_DINGTALK_CORP_ID":          chatopstest.DingTalkCorpID,
	"BACKUPFLOW_DINGTALK_SENDERS":          "dingtalk:" + chatopstest.User,
	"BACKUPFLOW_FEISHU_ENCRYPT_KEY":        chatopstest.FeishuEncryptKey,
	"BACKUPFLOW_FEISHU_VERIFICATION_TOKEN": chatopstest.FeishuVerificationToken,
	"BACKUPFLOW_FEISHU_APP_ID":             chatopstest.FeishuAppID,
	"BACKUPFLOW_FEISHU_APP_SECRET":         "feishu-app-secret",
	"BACKUPFLOW_FEISHU_API":                "https://open.feishu.cn",
	"BACKUPFLOW_HOOK_SECRET":               chatopstest.HookSecret,
}

var platformPrefixes = []string{"BACKUPFLOW_SLACK_", "BACKUPFLOW_WECOM_", "BACKUPFLOW_DINGTALK_", "BACKUPFLOW_FEISHU_", "BACKUPFLOW_HOOK_"}

// TestChatPlatformsEnableAsDeployed (issue 14 item 3): with a value for
// every platform variable the chatops function is given in a descriptor —
// and nothing else — every platform is enabled. A variable the handler
// needs but the descriptor does not pass (DingTalk's senders, once) would
// stop the function instead.
func TestChatPlatformsEnableAsDeployed(t *testing.T) {
	s := loadServerless(t)
	sam := loadSAM(t)
	scf := map[string]bool{}
	for k := range s.EnvKeys("chatops") {
		scf[k] = true
	}
	lambda := map[string]bool{}
	for k := range sam.EnvKeys(samFunctions(t, sam)["chatops"]) {
		lambda[k] = true
	}
	for name, keys := range map[string]map[string]bool{"serverless.yml": scf, "template.yaml": lambda} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			var passed []string
			for k := range keys {
				for _, p := range platformPrefixes {
					if strings.HasPrefix(k, p) {
						v, ok := platformSamples[k]
						if !ok {
							t.Errorf("%s passes %s to chatops, which has no sample value in platformSamples", name, k)
						}
						env[k] = v
						passed = append(passed, k)
					}
				}
			}
			sort.Strings(passed)
			emu, err := emulator.New(emulator.Options{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(emu)
			defer srv.Close()
			vars := emu.Env(srv.URL)
			maps.Copy(vars, env)
			getenv := func(k string) string { return vars[k] }
			cfg, err := config.LoadFrom(getenv)
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(context.Background(), cfg, app.Options{Function: app.Chatops, Getenv: getenv, Stdout: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			cc, err := chatapp.LoadChatConfig(getenv)
			if err != nil {
				t.Fatal(err)
			}
			h, err := chatapp.New(a, cc.Chatops(), time.Now)
			if err != nil {
				t.Fatalf("chatops with every platform variable %s passes (%v) does not start: %v", name, passed, err)
			}
			for _, p := range []string{"slack", "wecom", "dingtalk", "feishu", "hook"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+p, strings.NewReader("{}")))
				if rec.Code == http.StatusNotFound {
					t.Errorf("%s: %s cannot be enabled with what %s passes (%v)", p, p, name, passed)
				}
			}
		})
	}
}
