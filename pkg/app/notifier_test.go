package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/notify"
	"github.com/backupflow/backupflow/pkg/wecom"
)

type sendFunc func(context.Context, notify.Message) error

func (f sendFunc) Send(ctx context.Context, m notify.Message) error { return f(ctx, m) }

// Issue 14 item 9: when only the chat reply fails, the error names it
// cleanly (it read "%!w(<nil>); reply to …" once).
func TestNotifier_onlyTheReplyFails(t *testing.T) {
	ok := sendFunc(func(context.Context, notify.Message) error { return nil })
	broken := sendFunc(func(context.Context, notify.Message) error { return errors.New("wecom: 45009") })
	n := &notifier{team: ok, replies: map[string]sender{"wecom": broken}}
	err := n.Notify(context.Background(), flow.Notice{Outcome: &flow.Outcome{JobID: "j-1", Instance: "cdb-c1nl9rpv",
		Result: flow.Succeeded, Origin: job.Origin{Source: "chat", Platform: "wecom", User: "zhangsan"}}})
	if err == nil || strings.Contains(err.Error(), "%!") || err.Error() != "reply to wecom: wecom: 45009" {
		t.Errorf("Notify = %v; want exactly the reply's failure", err)
	}
}

// Issue 19 item 3: the nightly summary says how many dead letters wait.
func TestSummaryMessage_countsWaitingDeadLetters(t *testing.T) {
	for _, tc := range []struct {
		waiting int
		want    string
	}{{0, ""}, {-1, ""}, {2, "2 waiting: backupflow dead list"}} {
		m := SummaryMessage(flow.Summary{Run: "nightly-x", Outcomes: []flow.Outcome{{JobID: "j1", Result: flow.DeadLettered}}, DeadWaiting: tc.waiting})
		got := ""
		for _, f := range m.Fields {
			if f.Name == "Dead letters" {
				got = f.Value
			}
		}
		if !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("DeadWaiting %d: field %q; want %q…", tc.waiting, got, tc.want)
		}
		if !strings.Contains(m.Text, "1 dead-lettered") {
			t.Errorf("summary text %q does not count the dead-lettered job", m.Text)
		}
	}
}

// A chat job's result goes to its reply handle while it lasts; past it, or
// when the handle fails, to the static channel. Without a static channel a
// failure a retry can cure is returned (the notice is sent again), one it
// cannot is logged, without the handle, and dropped.
func TestNotifier_replyHandleThenStatic(t *testing.T) {
	const handle = "https://hooks.slack.com/commands/T0/1/handle-secret-0001"
	fresh := now0.Add(10 * time.Minute)
	retryable := &notify.Error{Channel: "slack", StatusCode: 503}
	refused := &notify.Error{Channel: "slack", StatusCode: 404, Code: "used_url"}
	for _, tc := range []struct {
		name      string
		expires   time.Time
		handleErr error
		static    bool
		wantAt    string // "handle", "static" or ""
		wantErr   bool
	}{
		{"fresh", fresh, nil, true, "handle", false},
		{"about to expire", now0.Add(30 * time.Second), nil, true, "static", false},
		{"expired", now0.Add(-time.Minute), nil, true, "static", false},
		{"no expiry known", time.Time{}, nil, true, "static", false},
		{"handle fails, static set", fresh, refused, true, "static", false},
		{"handle refused, no static", fresh, refused, false, "", false},
		{"handle unavailable, no static", fresh, retryable, false, "", true},
		{"expired, no static", now0.Add(-time.Minute), nil, false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var at []string
			var logs strings.Builder
			n := &notifier{team: sendFunc(func(context.Context, notify.Message) error { return nil }),
				replies: map[string]sender{}, now: func() time.Time { return now0 },
				log: slog.New(slog.NewJSONHandler(&logs, nil))}
			if tc.static {
				n.replies["slack"] = sendFunc(func(context.Context, notify.Message) error { at = append(at, "static"); return nil })
			}
			n.handles = func(platform, h string) (sender, error) {
				if platform != "slack" || h != handle {
					t.Errorf("handle sender for %s %s", platform, h)
				}
				return sendFunc(func(context.Context, notify.Message) error {
					if tc.handleErr != nil {
						return tc.handleErr
					}
					at = append(at, "handle")
					return nil
				}), nil
			}
			err := n.Notify(context.Background(), flow.Notice{Outcome: &flow.Outcome{JobID: "j-1", Instance: "cdb-c1nl9rpv",
				Result: flow.Succeeded, Origin: job.Origin{Source: "chat", Platform: "slack", User: "u1", Reply: handle, ReplyExpires: tc.expires}}})
			if (err != nil) != tc.wantErr {
				t.Errorf("Notify = %v; want error %v", err, tc.wantErr)
			}
			want := []string{}
			if tc.wantAt != "" {
				want = []string{tc.wantAt}
			}
			if strings.Join(at, ",") != strings.Join(want, ",") {
				t.Errorf("delivered at %v; want %v", at, want)
			}
			if strings.Contains(logs.String(), "handle-secret-0001") {
				t.Errorf("the handle reached the log: %s", logs.String())
			}
		})
	}
}

var now0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// A failed post to a conversation through a platform's API is retried
// (the notice redelivered) only when a later try can succeed; a refusal is
// dropped, since the redelivery would repeat the team's notice for nothing.
func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"feishu server error", &feishu.Error{Op: "reply", Status: 503}, true},
		{"feishu throttled", &feishu.Error{Op: "reply", Status: 200, Code: 11232}, true},
		{"feishu refused", &feishu.Error{Op: "reply", Status: 200, Code: 230002}, false},
		{"feishu bad secret", fmt.Errorf("wrapped: %w", &feishu.Error{Op: "tenant token", Status: 200, Code: 10014}), false},
		{"wecom busy", &wecom.Error{Op: "send", Status: 200, ErrCode: -1}, true},
		{"wecom bad secret", &wecom.Error{Op: "gettoken", Status: 200, ErrCode: 40001}, false},
		{"handle expired", errHandleExpired, false},
		{"handle not the platform's", fmt.Errorf("%w: x", notify.ErrHandle), false},
		{"handle throttled", &notify.Error{Channel: "slack", StatusCode: 429}, true},
		{"handle used up", &notify.Error{Channel: "slack", StatusCode: 404, Code: "used_url"}, false},
		{"no answer", errors.New("wecom send: connection refused"), true},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("%s: retryable(%v) = %v; want %v", c.name, c.err, got, c.want)
		}
	}
}

// The retention notice: the count expired and the space freed in its
// title, in MiB below a GiB and GiB above; report-only counts what would
// be expired; a failed instance makes it a failure naming the instance.
func TestRetentionMessage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         flow.RetentionNotice
		wantTitle string
		failure   bool
	}{
		{"MiB", flow.RetentionNotice{Run: "r", Results: []flow.RetentionResult{{Instance: "a", Expired: 2, Bytes: 3 << 20}}},
			"Retention after r: 2 backupflow backups expired, 3.0 MiB freed", false},
		{"GiB", flow.RetentionNotice{Run: "r", Results: []flow.RetentionResult{{Instance: "a", Expired: 1, Bytes: 1 << 30},
			{Instance: "b", Expired: 1, Bytes: 1 << 29}}}, "Retention after r: 2 backupflow backups expired, 1.5 GiB freed", false},
		{"no sizes", flow.RetentionNotice{Run: "r", Results: []flow.RetentionResult{{Instance: "a", Expired: 1}}},
			"Retention after r: 1 backupflow backups expired", false},
		{"report only", flow.RetentionNotice{Run: "r", Report: true, Results: []flow.RetentionResult{{Instance: "a", Selected: 4}}},
			"Retention after r (report only): 4 backupflow backups would be expired", false},
		{"failed", flow.RetentionNotice{Run: "r", Results: []flow.RetentionResult{{Instance: "a", Error: "refused"}}},
			"Retention after r: 0 backupflow backups expired", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RetentionMessage(tc.n)
			if m.Title != tc.wantTitle {
				t.Errorf("title = %q; want %q", m.Title, tc.wantTitle)
			}
			if got := m.Level == notify.Failure; got != tc.failure {
				t.Errorf("failure = %v; want %v", got, tc.failure)
			}
			if tc.failure && !strings.Contains(fmt.Sprint(m.Fields), "a: refused") {
				t.Errorf("fields %v do not name the failed instance", m.Fields)
			}
		})
	}
}
