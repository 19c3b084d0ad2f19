// Command scffn is the function the scfinvoke tests run as SCF would: it
// reports what it received, and fails or panics on request (FAIL_MODE).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"

	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
)

type report struct {
	Kind     string
	Name     string
	Message  string
	Key      string
	Greeting string
	Meta     invoke.Meta
	HasMeta  bool
}

type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func handle(ctx context.Context, payload []byte) ([]byte, error) {
	// Read inside the handler: SCF delivers the environment per invocation.
	switch os.Getenv("FAIL_MODE") {
	case "error":
		return nil, &configError{msg: "scffn: asked to fail"}
	case "panic":
		panic("scffn: asked to panic")
	}
	tr, err := event.Decode(payload)
	if err != nil {
		return nil, err
	}
	r := report{Greeting: os.Getenv("GREETING")}
	r.Meta, r.HasMeta = invoke.MetaFrom(ctx)
	switch {
	case tr.Timer != nil:
		r.Kind, r.Name, r.Message = "timer", tr.Timer.Name, tr.Timer.Message
	case len(tr.Objects) > 0:
		r.Kind, r.Key = "object", tr.Objects[0].Key
	default:
		return nil, errors.New("scffn: unexpected trigger")
	}
	return json.Marshal(r)
}

func main() {
	if err := scfinvoke.Start(handle); err != nil {
		slog.Error("scffn stopped", "err", err)
		os.Exit(1)
	}
}
