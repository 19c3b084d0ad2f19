// Command awsfn is the function the lambdainvoke tests run against a fake
// Runtime API. A timer whose message is "error" or "panic" fails that way;
// with AWSFN_HTTP=1 it serves an echoing http.Handler instead.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
)

type report struct {
	Kind, Name, Message, Key string
	Failures                 event.BatchResponse
	Meta                     invoke.Meta
}

func handle(ctx context.Context, payload []byte) ([]byte, error) {
	tr, err := event.Decode(payload)
	if err != nil {
		return nil, err
	}
	r := report{}
	r.Meta, _ = invoke.MetaFrom(ctx)
	switch {
	case tr.Timer != nil && tr.Timer.Message == "error":
		return nil, errors.New("awsfn: asked to fail")
	case tr.Timer != nil && tr.Timer.Message == "panic":
		panic("awsfn: asked to panic")
	case tr.Timer != nil:
		r.Kind, r.Name, r.Message = "timer", tr.Timer.Name, tr.Timer.Message
	case len(tr.Objects) > 0:
		r.Kind, r.Key = "object", tr.Objects[0].Key
	case len(tr.Messages) > 0:
		r.Kind = "message"
		var failed []string
		for _, m := range tr.Messages {
			if m.Err != nil {
				failed = append(failed, m.ID)
			}
		}
		r.Failures = event.NewBatchResponse(failed...)
	}
	return json.Marshal(r)
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m, _ := invoke.MetaFrom(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "%s %s %s sig=%s cookie=%s body=%s req=%s", r.Method, r.URL.Path, r.URL.RawQuery,
		r.Header.Get("X-Slack-Signature"), r.Header.Get("Cookie"), body, m.RequestID)
}

func main() {
	if os.Getenv("AWSFN_HTTP") == "1" {
		lambdainvoke.Start(lambdainvoke.HTTP(http.HandlerFunc(echo)))
		return
	}
	lambdainvoke.Start(handle)
}
