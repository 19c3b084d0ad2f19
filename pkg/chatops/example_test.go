package chatops_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
)

func ExampleParseCommand() {
	c, err := chatops.ParseCommand("<@U0BOT> /backupflow backup cdb-c1nl9rpv physical")
	fmt.Printf("%s %s %s %v\n", c.Verb, c.Instance, c.Method, err)
	_, err = chatops.ParseCommand("restore cdb-c1nl9rpv")
	fmt.Println(err)
	// Output:
	// backup cdb-c1nl9rpv physical <nil>
	// usage: unknown command "restore"
}

func ExampleVerifySlack() {
	// Slack's documented example request.
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", slackTS)
	h.Set("X-Slack-Signature", slackSig)
	fmt.Println(chatops.VerifySlack(h, []byte(slackBody), slackSecret, time.Unix(1531420618, 0)))
	fmt.Println(chatops.VerifySlack(h, []byte(slackBody), slackSecret, time.Unix(1531420618+301, 0)))
	// Output:
	// <nil>
	// chatops: timestamp outside the accepted window: 5m1s old
}

// printJobs is a Jobs that prints what it is given.
type printJobs struct{}

func (printJobs) Enqueue(_ context.Context, r chatops.Request) (string, error) {
	fmt.Println("enqueue:", r.Op, r.Instance, r.ID, r.Origin.Platform, r.Origin.User)
	return r.ID, nil
}

func (printJobs) Status(context.Context, string) (string, error) { return "nothing running", nil }

// ExampleNew sends one signed Slack command through the handler, the way
// the local demo does.
func ExampleNew() {
	now := chatopstest.SampleTime
	h, err := chatops.New(chatopstest.Config(), chatops.Deps{
		Jobs:   printJobs{},
		Store:  chatops.NewMemoryStore(func() time.Time { return now }),
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := chatopstest.Slack(chatopstest.Message{ID: "trigger-1", Text: "backup cdb-c1nl9rpv"}, now)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// enqueue: backup cdb-c1nl9rpv slack-226c5b2413a600f5 slack tester
	// 200 {"response_type":"ephemeral","text":"Backup of cdb-c1nl9rpv queued as job slack-226c5b2413a600f5. The result will follow here."}
}
