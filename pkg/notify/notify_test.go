package notify

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSender records what it was sent and answers with err.
type fakeSender struct {
	mu   sync.Mutex
	got  []Message
	err  error
	wait <-chan struct{} // if set, Send blocks until it is closed or ctx ends
}

func (f *fakeSender) Send(ctx context.Context, m Message) error {
	if f.wait != nil {
		select {
		case <-f.wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, m)
	return f.err
}

func (f *fakeSender) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

var _ Sender = (*fakeSender)(nil)
var _ Sender = (*Notifier)(nil)

func TestNotifier_FailuresOnly(t *testing.T) {
	tests := []struct {
		name         string
		failuresOnly bool
		level        Level
		want         int
	}{
		{"info dropped", true, Info, 0},
		{"success dropped", true, Success, 0},
		{"failure sent", true, Failure, 1},
		{"info sent without the option", false, Info, 1},
		{"success sent without the option", false, Success, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSender{}
			n := New([]Sender{f}, &Options{FailuresOnly: tt.failuresOnly})
			if err := n.Send(context.Background(), Message{Level: tt.level}); err != nil {
				t.Fatalf("Send = %v", err)
			}
			if f.count() != tt.want {
				t.Errorf("channel got %d messages; want %d", f.count(), tt.want)
			}
		})
	}
}

func TestNotifier_OneBadChannelDoesNotStopTheOthers(t *testing.T) {
	release := make(chan struct{})
	errA := &Error{Channel: "slack", StatusCode: 404, Code: "no_service"}
	errB := &Error{Channel: "wecom", Code: "93000"}
	bad1 := &fakeSender{err: errA}
	bad2 := &fakeSender{err: errB}
	good := &fakeSender{}
	// slow blocks until good has its message: if channels ran one after
	// another in this order, Send would never return.
	slow := &fakeSender{wait: release}
	n := New([]Sender{slow, bad1, good, bad2}, nil)
	go func() {
		for good.count() == 0 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	err := n.Send(context.Background(), Message{Level: Failure, Title: "x"})
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("Send = %v; want both channel errors joined", err)
	}
	for i, f := range []*fakeSender{slow, bad1, good, bad2} {
		if f.count() != 1 {
			t.Errorf("channel %d got %d messages; want 1", i, f.count())
		}
	}
}

func TestParseList(t *testing.T) {
	var out bytes.Buffer
	n, err := ParseList(`
		# team chat
		slack:https://hooks.slack.com/services/T/B/X, wecom:abc-123

		print:, stdout:slack
	`, &Options{Stdout: &out})
	if err != nil {
		t.Fatalf("ParseList = %v", err)
	}
	want := "slack:https://hooks.slack.com/[redacted],wecom:[redacted],print:,print:slack"
	if n.Len() != 4 || n.String() != want {
		t.Errorf("ParseList = %d channels %q; want 4 %q", n.Len(), n.String(), want)
	}
	if n, err := ParseList(" \n# nothing\n", nil); err != nil || n.Len() != 0 || n.Send(context.Background(), Message{Level: Failure}) != nil {
		t.Errorf("empty list = %v, %v; want a Notifier that sends nothing", n, err)
	}
	var none *Notifier
	if none.Send(context.Background(), Message{Level: Failure}) != nil || none.Len() != 0 {
		t.Errorf("a nil Notifier should send nothing")
	}
	_, err = ParseList("print:, bogus:x, wecom:", nil)
	if err == nil || !strings.Contains(err.Error(), "channel 2:") || !strings.Contains(err.Error(), "channel 3:") {
		t.Errorf("ParseList with two bad entries = %v; want both named by position", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		want string // String(); "" means Parse must fail
	}{
		{"slack:https://hooks.slack.com/services/T/B/X", "slack:https://hooks.slack.com/[redacted]"},
		{"https://hooks.slack.com/services/T/B/X", "slack:https://hooks.slack.com/[redacted]"},
		{"SLACK:https://hooks.slack.com/services/T/B/X", "slack:https://hooks.slack.com/[redacted]"},
		{"slack:https://hooks.slack.com/", ""},
		{"slack:http://hooks.slack.com/services/T/B/X", ""},
		{"slack:http://127.0.0.1:9/services/T/B/X", "slack:http://127.0.0.1:9/[redacted]"},
		{"wecom:693a91f6-7xxx", "wecom:[redacted]"},
		{"wecom:", ""},
		{"wecom:has space", ""},
		{"wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send", ""},
		{"wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k&debug=1", ""},
		{"dingtalk:tok", "dingtalk:[redacted]"},
		{"dingtalk:tok?secret=SECabc", "dingtalk:[redacted]?secret=[redacted]"},
		{"dingtalk:tok?secret=abc", ""},
		{"dingtalk:tok?secret=SECa&secret=SECb", ""},
		{"dingtalk:tok?access_token=tok", ""},
		{"https://oapi.dingtalk.com/robot/send?access_token=tok", "dingtalk:[redacted]"},
		{"feishu:tok", "feishu:[redacted]"},
		{"feishu:tok?secret=s", "feishu:[redacted]?secret=[redacted]"},
		{"feishu:tok?secret=", ""},
		{"feishu:tok?color=red", ""},
		{"https://open.larksuite.com/open-apis/bot/v2/hook/tok", "lark:[redacted]"},
		{"feishu:https://open.feishu.cn/open-apis/bot/v2/", ""},
		{"webhook:https://example.com/h?secret=s", "webhook:https://example.com/[redacted]?secret=[redacted]"},
		{"webhook:https://example.com/h", "webhook:https://example.com/[redacted]"},
		{"webhook:http://localhost:8080/h", "webhook:http://localhost:8080/[redacted]"},
		{"webhook:http://example.com/h", ""},
		{"webhook:https://example.com/h?secret=", ""},
		{"webhook:/relative", ""},
		{"https://example.com/h", ""},
		{"print:", "print:"},
		{"stdout:", "stdout:"},
		{"print:wecom", "print:wecom"},
		{"print:hook", "print:hook"},
		{"print:teams", ""},
		{"teams:x", ""},
		{"nocolon", ""},
		{"", ""},
	}
	for _, tt := range tests {
		s, err := Parse(tt.spec, nil)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("Parse(%q) = %v; want an error", tt.spec, s)
		case tt.want != "" && err != nil:
			t.Errorf("Parse(%q) = %v; want %s", tt.spec, err, tt.want)
		case tt.want != "" && describe(s) != tt.want:
			t.Errorf("Parse(%q).String() = %q; want %q", tt.spec, describe(s), tt.want)
		}
	}
}

func TestParse_EndpointOverride(t *testing.T) {
	var path string
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		path = r.Path + "?" + r.Query
		return http.StatusOK, `{"errcode":0}`
	})
	o := &Options{HTTPClient: srv.Client(), Endpoints: map[string]string{"wecom": srv.URL + "/emulator/"}}
	if err := mustParse(t, "wecom:k1", o).Send(context.Background(), Message{}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if path != "/emulator/cgi-bin/webhook/send?key=k1" {
		t.Errorf("request went to %q; want the platform path under the override", path)
	}
	if _, err := Parse("wecom:k1", &Options{Endpoints: map[string]string{"wecom": "not a url"}}); err == nil {
		t.Errorf("Parse with a bad override = nil error")
	}
}

func TestOptions_Defaults(t *testing.T) {
	custom := &http.Client{Timeout: time.Minute}
	o := (&Options{HTTPClient: custom}).withDefaults()
	if o.Timeout != 10*time.Second || o.Now == nil || o.Logger == nil || o.Stdout == nil {
		t.Errorf("defaults = %+v; want 10s timeout and non-nil clock, logger, stdout", o)
	}
	if o.HTTPClient == custom || o.HTTPClient.Timeout != time.Minute || o.HTTPClient.CheckRedirect == nil {
		t.Errorf("the caller's client should be copied, keeping its settings, with redirects off")
	}
	if custom.CheckRedirect != nil {
		t.Errorf("the caller's client was modified")
	}
}

func TestSend_BoundByContext(t *testing.T) {
	// The platform never answers; the caller's deadline ends the post.
	hang := make(chan struct{})
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		<-hang
		return http.StatusOK, "ok"
	})
	defer close(hang)
	ctx, cancel := context.WithCancel(context.Background())
	s := mustParse(t, slackSpec, opts(srv))
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, Message{}) }()
	for len(srv.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	var e *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || !e.Retryable() {
		t.Errorf("Send = %v; want a retryable *Error wrapping context.Canceled", err)
	}
}

// A plain print: channel marks its messages [notify], a styled one with its
// platform: the local stack's output tells team notices from chat replies.
func TestPrinterLabels(t *testing.T) {
	for _, tt := range []struct{ spec, want string }{
		{"print:", "[notify] ✅ done (job 7)\n"},
		{"stdout:", "[notify] ✅ done (job 7)\n"},
		{"print:slack", "[slack] ✅ done (job 7)\n"},
		{"print:hook", "[hook] ✅ done (job 7)\n"},
	} {
		var b strings.Builder
		s, err := Parse(tt.spec, &Options{Stdout: &b})
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.spec, err)
		}
		if err := s.Send(context.Background(), Message{Level: Success, Title: "done", JobID: "7"}); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != tt.want {
			t.Errorf("%s printed %q; want %q", tt.spec, got, tt.want)
		}
	}
}
