package chatops_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/config"
)

// deployed is the chatops function as deployed: configured only from its
// environment, its ledger in the emulator's COS bucket, its queues on the
// emulator's CMQ, all over HTTP.
type deployed struct {
	t     *testing.T
	h     http.Handler
	app   *app.App
	emu   *emulator.Emulator
	clock *clocktest.Clock
	logs  *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDeployed opens the app from the emulator's environment plus env. With
// a nil env the chat handler is not built (the fixture builds its own over
// the same Store).
func newDeployed(t *testing.T, clock *clocktest.Clock, env map[string]string) *deployed {
	t.Helper()
	return newDeployedBehind(t, clock, env, nil)
}

// newDeployedBehind is newDeployed with front, when set, standing between
// the function and the emulator (to break the network where a test says).
func newDeployedBehind(t *testing.T, clock *clocktest.Clock, env map[string]string, front func(http.Handler) http.Handler) *deployed {
	t.Helper()
	emu, err := emulator.New(emulator.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = emu
	if front != nil {
		h = front(emu)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	vars := emu.Env(srv.URL)
	maps.Copy(vars, emulator.CloudQueues("ledger-"+strings.ReplaceAll(t.Name(), "/", "-")))
	vars["BACKUPFLOW_NOTIFY"], vars["BACKUPFLOW_LOG_LEVEL"] = "print:", "info"
	maps.Copy(vars, env)
	getenv := func(k string) string { return vars[k] }
	cfg, err := config.LoadFrom(getenv)
	if err != nil {
		t.Fatal(err)
	}
	d := &deployed{t: t, emu: emu, clock: clock, logs: &syncBuf{}}
	d.app, err = app.Open(context.Background(), cfg, app.Options{Function: app.Chatops, Now: clock.Now, Getenv: getenv, Stdout: d.logs})
	if err != nil {
		t.Fatal(err)
	}
	if env == nil {
		return d
	}
	cc, err := chatapp.LoadChatConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if d.h, err = chatapp.New(d.app, cc.Chatops(), clock.Now); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *deployed) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, r)
	return rec
}
