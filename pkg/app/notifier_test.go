package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/notify"
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
