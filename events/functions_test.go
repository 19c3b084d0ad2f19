package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/local"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
)

// accepts is what each function of the one table lists; the handlers
// enforce their own lists, so this test also holds the two equal.
var accepts = func() map[string][]event.Kind {
	m := map[string][]event.Kind{}
	for _, f := range app.Functions {
		m[f.Name] = f.Triggers
	}
	return m
}()

// kindOfFile is the trigger a sample is: what Decode recognises, and for
// the chat samples (recorded HTTP requests) an HTTP request.
func kindOfFile(t *testing.T, name string, b []byte) event.Kind {
	t.Helper()
	if path.Dir(name) == local.ChatFunction {
		return event.HTTPRequest
	}
	tr, err := event.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr.Kind
}

// TestEverySampleToEveryFunction gives every file under events/ to every
// function, built by the deployed constructor (app.Handler over the
// functions' handler builders, wired from the environment) against an
// emulator with real CMQ queues and a COS ledger: a function that lists
// the file's trigger accepts it; every other one refuses it with an error
// naming what arrived and what it accepts, and sends nothing to any queue.
func TestEverySampleToEveryFunction(t *testing.T) {
	files, err := fs.Glob(events.FS, "*/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("samples: %d, %v", len(files), err)
	}
	fns := slices.Sorted(maps.Keys(accepts))
	for _, name := range files {
		b, err := fs.ReadFile(events.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		kind := kindOfFile(t, name, b)
		for _, fn := range fns {
			want := slices.Contains(accepts[fn], kind)
			verdict := "rejects"
			if want {
				verdict = "accepts"
			}
			t.Run(name+"/"+fn+"-"+verdict, func(t *testing.T) {
				emu := deployedEnv(t)
				if err := seedObjects(emu, b); err != nil {
					t.Fatal(err)
				}
				out, err := deliver(t, fn, name, b)
				sent := sentMessages(emu)
				if want {
					if errors.Is(err, event.ErrRejected) {
						t.Fatalf("%s refused a %s it lists: %v", fn, kind, err)
					}
					if err != nil {
						t.Fatalf("%s failed on %s: %v (%s)", fn, name, err, out)
					}
					// The count sees what a run sends (so its zero below means nothing).
					if (kind == event.SCFTimer || kind == event.Schedule) && sent == 0 {
						t.Errorf("%s ran %s and the queues show nothing sent", fn, name)
					}
					return
				}
				if err == nil {
					t.Fatalf("%s accepted a %s (%s); it accepts only %v", fn, kind, out, accepts[fn])
				}
				if !errors.Is(err, event.ErrRejected) || !strings.Contains(err.Error(), "accepts") {
					t.Errorf("%s: error %q; want a refusal naming what arrived and what is accepted", fn, err)
				}
				if sent != 0 {
					t.Errorf("%s refused %s but sent %d messages", fn, name, sent)
				}
			})
		}
	}
}

// deployedEnv starts an emulator and points the process environment at it,
// the way the platform hands a function its variables.
func deployedEnv(t *testing.T) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.New(emulator.Options{JobDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	env := emu.Env(srv.URL)
	maps.Copy(env, emulator.CloudQueues("ledger"))
	env["BACKUPFLOW_LOG_LEVEL"] = "error"
	for k, v := range env {
		t.Setenv(k, v)
	}
	return emu
}

// deliver invokes fn with payload as its platform would: an event function
// through app.Main (the function table), chatops as Lambda's function-URL adapter sees a
// payload (a recorded chat request is replayed as HTTP at its signing time).
func deliver(t *testing.T, fn, name string, payload []byte) ([]byte, error) {
	t.Helper()
	ctx := invoke.WithMeta(context.Background(), invoke.Meta{Platform: invoke.PlatformLocal, FunctionName: fn, RequestID: "evx"})
	if entry, ok := app.Lookup(fn); ok && !entry.Web {
		return app.Main(fn)(ctx, payload)
	}
	if path.Dir(name) == local.ChatFunction {
		return replayChat(t, payload)
	}
	h, err := chatapp.Handler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return lambdainvoke.HTTP(h)(ctx, payload)
}

func replayChat(t *testing.T, payload []byte) ([]byte, error) {
	t.Helper()
	var s chatopstest.Sample
	if err := json.Unmarshal(payload, &s); err != nil {
		t.Fatal(err)
	}
	at, err := s.Time()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, app.Options{Function: local.ChatFunction})
	if err != nil {
		t.Fatal(err)
	}
	h, err := local.ChatHandler(a, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, s.Request())
	if rec.Code >= 400 {
		return rec.Body.Bytes(), errors.New(rec.Body.String())
	}
	return rec.Body.Bytes(), nil
}

// seedObjects puts the objects a COS event names into the emulator, as the
// upload that fired the event would have.
func seedObjects(emu *emulator.Emulator, payload []byte) error {
	tr, err := event.Decode(payload)
	if err != nil {
		return nil
	}
	for _, o := range tr.Objects {
		if o.Platform == "cos" {
			if err := emu.COS.PutAs(o.Bucket, o.Key, append([]byte("TAPE"), make([]byte, 1020)...), o.ETag); err != nil {
				return err
			}
		}
	}
	return nil
}

// sentMessages counts every message on the emulated queues, due or not.
func sentMessages(emu *emulator.Emulator) int {
	n := 0
	for _, q := range []string{"backupflow-work", "backupflow-poll", "backupflow-dead"} {
		visible, inflight, delayed := emu.CMQ.Stats(q)
		n += visible + inflight + delayed
	}
	return n
}
