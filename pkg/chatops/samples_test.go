package chatops_test

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"

	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
)

var update = flag.Bool("update", false, "rewrite events/chatops samples")

const samplesDir = "../../events/chatops"

// sampleCases are the signed samples under events/chatops, built from the
// fixed test secrets at chatopstest.SampleTime.
var sampleCases = []struct {
	file     string
	build    func() *http.Request
	enqueues int
	reply    string // expected in the reply (body or Replier)
}{
	{"slack-backup.json", func() *http.Request {
		return chatopstest.Slack(chatopstest.Message{ID: "13345224609.738474920.8088930838d88f008e0", Text: "backup cdb-c1nl9rpv"}, chatopstest.SampleTime)
	}, 1, "queued as job slack-"},
	{"wecom-app-backup.json", func() *http.Request {
		return chatopstest.WeComApp(chatopstest.Message{ID: "7423650912638459904", Text: "/dbbackup backup mssql-rdc0gajn"}, chatopstest.SampleTime)
	}, 1, "queued as job wecom-"},
	{"wecom-robot-status.json", func() *http.Request {
		return chatopstest.WeComRobot(chatopstest.Message{ID: "CAIQxxvPuQYYwL2vgICAgAMgFw", Text: "/dbbackup status"}, chatopstest.SampleTime)
	}, 0, "2 jobs running"},
	{"wecom-app-url-verification.json", func() *http.Request {
		return chatopstest.WeComURLCheck("6429417135328496012", false, chatopstest.SampleTime)
	}, 0, "6429417135328496012"},
	{"dingtalk-backup.json", func() *http.Request {
		return chatopstest.DingTalk(chatopstest.Message{ID: "msgQ9ZKz3w0lF8h0x2nA1lOtA==", Text: "backup cmgo-ayxpky6l logical"}, chatopstest.SampleTime)
	}, 1, "queued as job dingtalk-"},
	{"feishu-import.json", func() *http.Request {
		return chatopstest.Feishu(chatopstest.Message{ID: "5e3702a84e847582be8db7fb73283c02", Text: "/backupflow import cos://backups-1250000000/orders.bak to mssql-rdc0gajn"}, chatopstest.SampleTime)
	}, 0, "send `confirm "},
	{"feishu-url-verification.json", func() *http.Request {
		return chatopstest.FeishuURLVerification("ajls384kdjx98XX", true, chatopstest.SampleTime)
	}, 0, "ajls384kdjx98XX"},
	{"hook-backup.json", func() *http.Request {
		return chatopstest.Hook(chatopstest.Message{ID: "6f1c1f3e-2b7a-4c52-9d55-6f0e0c1d2a11", Text: "backup cdb-c1nl9rpv snapshot"}, chatopstest.SampleTime)
	}, 1, "queued as job hook-"},
}

func TestSamples(t *testing.T) {
	if *update {
		for _, c := range sampleCases {
			b, err := json.MarshalIndent(chatopstest.NewSample(c.build()), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(samplesDir, c.file), append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s (%v)", samplesDir, err)
	}
	want := map[string]int{}
	for i, c := range sampleCases {
		want[c.file] = i
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			i, ok := want[filepath.Base(file)]
			if !ok {
				t.Fatalf("sample %s has no case in sampleCases", file)
			}
			c := sampleCases[i]
			s, err := chatopstest.ReadSample(file)
			if err != nil {
				t.Fatal(err)
			}
			at, err := s.Time()
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, chatopstest.Config(), at)
			rec := f.serve(s.Request())
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d %q; want 200", rec.Code, rec.Body)
			}
			if n := len(f.jobs.enqueued()); n != c.enqueues {
				t.Errorf("enqueued %d; want %d", n, c.enqueues)
			}
			got := rec.Body.String() + f.replies.last().text
			if b := filepath.Base(file); (strings.HasPrefix(b, "wecom-app") || strings.HasPrefix(b, "wecom-robot")) && s.Request().Method == http.MethodPost {
				got = wecomPassive(strings.HasPrefix(filepath.Base(file), "wecom-robot"))(f, rec)
			}
			if !strings.Contains(got, c.reply) {
				t.Errorf("reply %q; want %q in it", got, c.reply)
			}
			// The sample is current only at its own time.
			f2 := newFixture(t, chatopstest.Config(), at.Add(2*chatopsWindow(file)))
			if rec := f2.serve(s.Request()); rec.Code != http.StatusUnauthorized {
				t.Errorf("replayed later: status = %d; want 401", rec.Code)
			}
		})
	}
}

func chatopsWindow(file string) time.Duration {
	if strings.HasPrefix(filepath.Base(file), "dingtalk") {
		return chatops.DingTalkWindow
	}
	return chatops.SlackWindow
}
