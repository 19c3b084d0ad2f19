package chatops_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
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
