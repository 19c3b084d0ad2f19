package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
)

// callLog is a counting http.RoundTripper: every request a process makes
// (cloud API, CMQ, the COS ledger) goes through app.Options.HTTPClient, so
// it sees each call an invocation costs, named by what it is.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (c *callLog) RoundTrip(req *http.Request) (*http.Response, error) {
	name := req.Method + " " + req.URL.Path
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		if f, err := url.ParseQuery(string(b)); err == nil && f.Get("Action") != "" {
			name = "cmq " + f.Get("Action")
		}
	}
	if a := req.Header.Get("X-TC-Action"); a != "" {
		name = "cloud " + a
	}
	c.mu.Lock()
	c.calls = append(c.calls, name)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (c *callLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// TestEmptyDrainsMakeOnlyTheirReceive (issue 20 item 3): the SCF drain
// timers fire every minute, day and night, and on most firings both
// queues are empty. Through the deployed handlers (function table over
// app.Open against the emulator, SCF drain-timer events), an empty
// create-backup drain of a warm process that swept, or saw the sweep's
// gate, less than SweepEvery ago makes one call — its receive — and an
// empty poll-status drain one. A cold process reads the gate from the
// ledger as before, and a warm one still sweeps when SweepEvery has
// passed (and its sweep reads the staleness check's gate only when that
// is StaleEvery old). Before, every empty create-backup drain also read
// sweep/last from the ledger: two calls.
func TestEmptyDrainsMakeOnlyTheirReceive(t *testing.T) {
	s := newStack(t, emulator.Options{}, nil)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	type process struct {
		log          *callLog
		create, poll invoke.Handler
	}
	start := func() *process {
		p := &process{log: &callLog{}}
		a, err := app.Open(context.Background(), cfg, app.Options{Now: s.clk.Now, Getenv: os.Getenv, Stdout: io.Discard,
			HTTPClient: &http.Client{Transport: p.log}, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		p.create, p.poll = tableHandler(t, a, app.CreateBackup), tableHandler(t, a, app.PollStatus)
		p.log.take() // opening reads the bucket's versioning
		return p
	}
	warm, other := start(), start()
	type drainStep struct {
		name    string
		advance time.Duration // virtual time before the firing
		p       *process
		fn      string
		want    []string // the calls, in order; nil: a sweep (checked apart)
		without string   // a call the sweep must not make
	}
	receive := []string{"cmq BatchReceiveMessage"}
	gate := "GET /" + strings.TrimPrefix(cfg.Ledger, "cos://backups-1250000000/") + "/sweep/last"
	staleGate := strings.TrimSuffix(gate, "sweep/last") + "watch/last-check"
	for _, st := range []drainStep{
		{name: "first drain sweeps", p: warm, fn: app.CreateBackup},
		{name: "warm create drain a minute later", advance: time.Minute, p: warm, fn: app.CreateBackup, want: receive},
		{name: "poll drain", advance: 30 * time.Second, p: warm, fn: app.PollStatus, want: receive},
		{name: "cold create drain reads the gate", advance: 30 * time.Second, p: other, fn: app.CreateBackup, want: []string{gate, "cmq BatchReceiveMessage"}},
		{name: "then remembers it", advance: time.Minute, p: other, fn: app.CreateBackup, want: receive},
		{name: "warm create drain at 9 min", advance: 6 * time.Minute, p: warm, fn: app.CreateBackup, want: receive},
		// Its staleness check (StaleEvery, an hour) ran at its first
		// sweep: it does not read that gate either.
		{name: "warm create drain sweeps again at SweepEvery", advance: time.Minute, p: warm, fn: app.CreateBackup, without: staleGate},
		{name: "the other process saw an older gate: reads it again", advance: 0, p: other, fn: app.CreateBackup, want: []string{gate, "cmq BatchReceiveMessage"}},
		{name: "and then only receives", advance: time.Minute, p: other, fn: app.CreateBackup, want: receive},
	} {
		s.clk.Advance(st.advance)
		h := st.p.create
		if st.fn == app.PollStatus {
			h = st.p.poll
		}
		now := s.clk.Now()
		ctx := invoke.WithMeta(context.Background(), invoke.Meta{Platform: "scf", FunctionName: st.fn, Deadline: now.Add(2 * time.Minute)})
		ev, _ := json.Marshal(map[string]string{"Type": "Timer", "TriggerName": "drain", "Time": now.UTC().Format(time.RFC3339), "Message": function.DrainMessage})
		out, err := h(ctx, ev)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var rep function.Report
		if err := json.Unmarshal(out, &rep); err != nil || rep.Drained != 0 {
			t.Fatalf("%s: report %s (%v); want an empty drain", st.name, out, err)
		}
		got := st.p.log.take()
		if st.want == nil {
			// A sweep reads the gate, writes it and reads the ledger.
			if len(got) < 3 || got[0] != gate || !slices.Contains(got, "PUT "+strings.TrimPrefix(gate, "GET ")) {
				t.Errorf("%s: calls %q; want a sweep (read and write %s, then its reads)", st.name, got, gate)
			}
			if st.without != "" && slices.Contains(got, st.without) {
				t.Errorf("%s: calls %q; want no %s", st.name, got, st.without)
			}
			continue
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: calls %q; want %q", st.name, got, st.want)
		}
	}
}
