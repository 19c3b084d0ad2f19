package app

import (
	"context"
	"fmt"
	"time"

	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
)

// The deployed functions' names, as functions/<name>, serverless.yml and
// template.yaml spell them.
const (
	CreateBackup   = "create-backup"
	StartMigration = "start-migration"
	PollStatus     = "poll-status"
	Chatops        = "chatops"
)

// Function is one deployed function as the table names it.
type Function struct {
	Name string
	// Triggers are the trigger kinds the function accepts; its handler
	// refuses any other before reading or sending anything.
	Triggers []event.Kind
	// Drains names the queue the SCF drain timer empties ("work" or
	// "poll"), or "" when the function drains none.
	Drains string
	// Pace spaces create steps at each product's published rate while
	// draining; Headroom is kept free before the invocation's deadline.
	Pace     bool
	Headroom time.Duration
	// Web marks the HTTP function. Its constructor is chatapp.Handler
	// (deployed) over chatapp.New: it lives in pkg/chatapp so that the
	// event functions, which link this package, never link the chat code.
	Web   bool
	build func(*flow.Service, function.Receiver, function.Options) invoke.Handler
}

// Functions is the one function table. The mains (functions/<name>), the
// local stack, `backupflow invoke`, the footprint benchmark, the simulator
// and the end-to-end tests all build functions from it; a test in
// functions/ fails when a main wires anything else.
var Functions = []Function{
	{Name: CreateBackup, Triggers: function.CreateBackupTriggers, Drains: "work", Pace: true, Headroom: 15 * time.Second,
		build: func(s *flow.Service, q function.Receiver, o function.Options) invoke.Handler {
			return function.CreateBackup(s, q, o)
		}},
	{Name: StartMigration, Triggers: function.StartMigrationTriggers,
		build: func(s *flow.Service, _ function.Receiver, o function.Options) invoke.Handler {
			return function.StartMigration(s, o)
		}},
	{Name: PollStatus, Triggers: function.PollStatusTriggers, Drains: "poll", Headroom: 15 * time.Second,
		build: func(s *flow.Service, q function.Receiver, o function.Options) invoke.Handler {
			return function.PollStatus(s, q, o)
		}},
	{Name: Chatops, Triggers: function.ChatopsTriggers, Web: true},
}

// Lookup returns the table's entry for name.
func Lookup(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// EventFunctions are the table's entries that are invoked with events.
func EventFunctions() []Function {
	var out []Function
	for _, f := range Functions {
		if !f.Web {
			out = append(out, f)
		}
	}
	return out
}

// Handler builds f's handler over a exactly as deployed. wrap, when set,
// wraps the queue the function drains — the one seam tests have (to reorder
// deliveries as a fleet of consumers would); everything else is the table's.
func (f Function) Handler(a *App, wrap func(function.Receiver) function.Receiver) (invoke.Handler, error) {
	if f.Web || f.build == nil {
		return nil, fmt.Errorf("%s is an HTTP function: build it with chatapp", f.Name)
	}
	var q function.Receiver
	switch f.Drains {
	case "work":
		q = a.Work
	case "poll":
		q = a.Poll
	}
	if q != nil && wrap != nil {
		q = wrap(q)
	}
	return f.build(a.Service, q, function.Options{Logger: a.Log, Now: a.Now, Sleep: a.Sleep, Pace: f.Pace, Headroom: f.Headroom, Workers: a.Cfg.DrainWorkers,
		Consumers: a.Cfg.Consumers}), nil
}

// Main is what an event function's main runs: the table's handler for name,
// wired from the environment on first use and whenever it changes.
func Main(name string) invoke.Handler {
	f, ok := Lookup(name)
	if !ok || f.Web {
		return func(context.Context, []byte) ([]byte, error) {
			return nil, fmt.Errorf("%s: not an event function of the table", name)
		}
	}
	return envHandler(name, func(a *App) (invoke.Handler, error) { return f.Handler(a, nil) })
}
