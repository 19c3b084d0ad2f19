package local

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// EventHandlers build each event function's handler from its App exactly as
// the function's main does (functions/<name>/main.go), so local runs execute
// the deployed code paths.
var EventHandlers = map[string]func(*app.App) invoke.Handler{
	"create-backup": func(a *app.App) invoke.Handler {
		return function.CreateBackup(a.Service, a.Work, function.Options{Logger: a.Log, Pace: true})
	},
	"start-migration": func(a *app.App) invoke.Handler {
		return function.StartMigration(a.Service, function.Options{Logger: a.Log})
	},
	"poll-status": func(a *app.App) invoke.Handler {
		return function.PollStatus(a.Service, a.Poll, function.Options{Logger: a.Log})
	},
}

// ChatFunction is the web function serving chat commands.
const ChatFunction = "chatops"

// ChatConfig is the chat handler's local configuration: every platform on
// with chatopstest's public test secrets, anyone may ask for status and
// backups, and the test user may import after confirming.
func ChatConfig() chatops.Config {
	c := chatopstest.Config()
	c.Policy.Status = chatops.Rule{Anyone: true}
	return c
}

// ChatHandler is the chatops handler over a's flows. With now set (replaying
// a recorded sample) requests are verified at that time and replays are
// remembered in memory; otherwise it is exactly the deployed handler.
func ChatHandler(a *app.App, now func() time.Time) (http.Handler, error) {
	if now == nil {
		return a.Chat(ChatConfig(), nil)
	}
	return chatops.New(ChatConfig(), chatops.Deps{Jobs: chatJobs{a.Service}, Store: chatops.NewMemoryStore(now),
		Logger: a.Log, Now: now})
}

// chatJobs is app's adapter between the chat handler and the flows, for
// the replay handler that needs its own clock.
type chatJobs struct{ svc *flow.Service }

func (j chatJobs) Enqueue(ctx context.Context, r chatops.Request) (string, error) {
	return j.svc.Enqueue(ctx, flow.Request{JobID: r.ID, Op: provider.Op(r.Op), Instance: r.Instance, Method: r.Method,
		Object: r.Object, Origin: originOf(r)})
}

func (j chatJobs) Status(ctx context.Context, query string) (string, error) {
	return app.StatusText(ctx, j.svc, query)
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

func originOf(r chatops.Request) job.Origin {
	return job.Origin{Source: "chat", Platform: r.Origin.Platform, User: r.Origin.User, Chat: r.Origin.Chat,
		Thread: r.Origin.Thread, MessageID: r.Origin.MessageID}
}
