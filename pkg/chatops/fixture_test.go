package chatops_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops"
)

// fakeJobs is a Jobs that records what it was given. Like the deployed one
// it is idempotent per request id: calls counts every Enqueue, requests
// holds one entry per job.
type fakeJobs struct {
	mu       sync.Mutex
	requests []chatops.Request
	calls    int
	queries  []string
	fail     error
}

func (j *fakeJobs) Enqueue(_ context.Context, r chatops.Request) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls++
	if j.fail != nil {
		return "", j.fail
	}
	for _, had := range j.requests {
		if had.ID == r.ID {
			return r.ID, nil
		}
	}
	j.requests = append(j.requests, r)
	return r.ID, nil
}

func (j *fakeJobs) Status(_ context.Context, q string) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.queries = append(j.queries, q)
	if j.fail != nil {
		return "", j.fail
	}
	return "2 jobs running", nil
}

func (j *fakeJobs) DeadText(context.Context) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return "", j.fail
	}
	return "1 dead letter(s) waiting", nil
}

func (j *fakeJobs) RetentionText(_ context.Context, instance string) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return "", j.fail
	}
	return "Retention of " + instance + ": 2 of 5 backups would be deleted", nil
}

func (j *fakeJobs) PlanText(context.Context) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return "", j.fail
	}
	return "Tonight's nightly run: 3 backups", nil
}

func (j *fakeJobs) enqueued() []chatops.Request {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]chatops.Request(nil), j.requests...)
}

type reply struct {
	origin chatops.Origin
	text   string
}

// fakeReplier records replies for WeCom and Feishu.
type fakeReplier struct {
	mu  sync.Mutex
	all []reply
}

func (f *fakeReplier) Reply(_ context.Context, o chatops.Origin, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = append(f.all, reply{o, text})
	return nil
}

func (f *fakeReplier) last() reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.all) == 0 {
		return reply{}
	}
	return f.all[len(f.all)-1]
}

// brokenStore fails every call.
type brokenStore struct{}

var errStoreDown = errors.New("store down")

func (brokenStore) Claim(context.Context, string, time.Duration) (bool, error) {
	return false, errStoreDown
}
func (brokenStore) Put(context.Context, string, []byte, time.Duration) error { return errStoreDown }
func (brokenStore) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errStoreDown
}

type fixture struct {
	t       *testing.T
	h       http.Handler
	jobs    *fakeJobs
	replies *fakeReplier
	clock   *clocktest.Clock
	logs    *bytes.Buffer
	store   chatops.Store // the deployed one
}

// newFixture builds the handler with recording Jobs and Replies over the
// deployed Store: the ledger in the emulator's COS bucket, over HTTP.
func newFixture(t *testing.T, cfg chatops.Config, now time.Time) *fixture {
	t.Helper()
	f := &fixture{t: t, jobs: &fakeJobs{}, replies: &fakeReplier{}, clock: clocktest.New(now), logs: &bytes.Buffer{}}
	d := newDeployed(t, f.clock, nil)
	f.store = chatapp.Store(d.app, f.clock.Now)
	h, err := chatops.New(cfg, chatops.Deps{
		Jobs:    f.jobs,
		Store:   f.store,
		Replies: f.replies,
		Logger:  slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     f.clock.Now,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.h = h
	return f
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

func (f *fixture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(f.logs, nil))
}
