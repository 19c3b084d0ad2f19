package local

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/invoke"
)

// ChatFunction is the web function serving chat commands.
const ChatFunction = app.Chatops

// ChatConfig is the chat handler's local configuration: every platform on
// with chatopstest's public test secrets, anyone may ask for status and
// backups, and the test user may import after confirming.
func ChatConfig() chatops.Config {
	c := chatopstest.Config()
	c.Policy.Status = chatops.Rule{Anyone: true}
	return c
}

// ChatHandler is the chatops handler over a's flows, built by the one
// constructor the deployed function uses (chatapp.New) with the local chat
// configuration. now, when set, verifies requests at that time (replaying a
// recorded sample).
func ChatHandler(a *app.App, now func() time.Time) (http.Handler, error) {
	return chatapp.New(a, ChatConfig(), now)
}

// Invoke runs h once the way the platform would: with invocation metadata
// and the function's timeout as the deadline.
func Invoke(ctx context.Context, h invoke.Handler, fn string, timeout time.Duration, payload []byte) ([]byte, error) {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ctx = invoke.WithMeta(ctx, invoke.Meta{Platform: invoke.PlatformLocal, FunctionName: fn, Deadline: deadline,
		RequestID: fmt.Sprintf("local-%d", time.Now().UnixNano())})
	return h(ctx, payload)
}
