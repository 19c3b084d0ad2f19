package function

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue/memqueue"
)

// panicProvider panics on every call, as the SDK did reading an answer of
// exactly `null`.
type panicProvider struct{}

func (panicProvider) Start(context.Context, provider.Spec) (provider.Ref, error) {
	panic("runtime error: invalid memory address or nil pointer dereference")
}
func (panicProvider) Status(context.Context, provider.Spec, provider.Ref) (provider.Status, error) {
	panic("runtime error: invalid memory address or nil pointer dereference")
}
func (panicProvider) Find(context.Context, provider.Spec) (provider.Ref, bool, error) {
	panic("runtime error: invalid memory address or nil pointer dereference")
}

// TestPoisonMessageIsDeadLetteredWithItsReason (issue 13 item 8): a message
// whose handling panics killed the drain and came back forever. Now the
// panic fails that message only, and once it has been received more than
// MaxReceives times it goes to the dead-letter queue, its job ends
// "dead-lettered" with the reason, and the queue is clear.
func TestPoisonMessageIsDeadLetteredWithItsReason(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC))
	qo := &memqueue.Options{Now: clk.Now}
	work := memqueue.Open("poison-work", qo)
	poll := memqueue.Open("poison-poll", qo)
	dead := memqueue.Open("poison-dead", qo)
	led, err := ledger.Open(context.Background(), "mem://poison", openurl.Env{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := flow.New(flow.Config{}, flow.Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return panicProvider{}, nil },
		Work:      work, Poll: poll, Dead: dead, Ledger: led, Notifier: nopNotifier{}, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := svc.Enqueue(context.Background(), flow.Request{ID: []string{"cli", "poison"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
	if err != nil {
		t.Fatal(err)
	}
	o := quiet()
	o.Now, o.Workers = clk.Now, virtualWorkers
	h := CreateBackup(svc, work, o)
	drainEv := []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`)
	for i := 1; i <= DefaultMaxReceives+1; i++ {
		out, err := func() (out []byte, err error) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("drain %d panicked: %v", i, p)
				}
			}()
			return h(context.Background(), drainEv)
		}()
		if err != nil {
			t.Fatalf("drain %d: %v", i, err)
		}
		var rep Report
		_ = json.Unmarshal(out, &rep)
		if i <= DefaultMaxReceives && rep.Failed != 1 {
			t.Errorf("drain %d: report %s; want the message failed and kept", i, out)
		}
		clk.Advance(time.Minute) // past the visibility timeout
	}
	msgs, err := dead.Receive(context.Background(), 10, 0)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("dead-letter queue holds %d messages (%v); want the poison message", len(msgs), err)
	}
	if left, _ := work.Receive(context.Background(), 10, 0); len(left) != 0 {
		t.Errorf("the poison message is still on the work queue")
	}
	b, ok, err := led.Get(context.Background(), "jobs/"+id+"/outcome")
	if err != nil || !ok {
		t.Fatalf("no outcome for the job (%v)", err)
	}
	var oc flow.Outcome
	if err := json.Unmarshal(b, &oc); err != nil {
		t.Fatal(err)
	}
	if oc.Result != flow.DeadLettered || !strings.Contains(oc.Message, "received") || !strings.Contains(oc.Message, "panic") {
		t.Errorf("outcome %s %q; want dead-lettered naming the receive count and the panic", oc.Result, oc.Message)
	}
}

// TestPushedBatchSurvivesAPanic: a pushed batch (SQS) whose message panics
// reports that message failed and handles the rest.
func TestPushedBatchSurvivesAPanic(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC))
	qo := &memqueue.Options{Now: clk.Now}
	work, poll, dead := memqueue.Open("pb-work", qo), memqueue.Open("pb-poll", qo), memqueue.Open("pb-dead", qo)
	led, _ := ledger.Open(context.Background(), "mem://pushed", openurl.Env{})
	svc, err := flow.New(flow.Config{}, flow.Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return panicProvider{}, nil },
		Work:      work, Poll: poll, Dead: dead, Ledger: led, Notifier: nopNotifier{}, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enqueue(context.Background(), flow.Request{ID: []string{"cli", "pushed"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := work.Receive(context.Background(), 1, 0)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %v %d", err, len(msgs))
	}
	rec := map[string]any{"eventSource": "aws:sqs", "messageId": "m1", "body": string(msgs[0].Body),
		"attributes": map[string]string{"ApproximateReceiveCount": "1"}}
	payload, _ := json.Marshal(map[string]any{"Records": []any{rec}})
	var out []byte
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("batch panicked: %v", p)
			}
		}()
		out, err = CreateBackup(svc, work, quiet())(context.Background(), payload)
	}()
	if err != nil {
		t.Fatal(err)
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil || len(br.BatchItemFailures) != 1 || br.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Errorf("reply %s; want m1 reported failed", out)
	}
}
