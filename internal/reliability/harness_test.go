package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/notify"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
)

// latency makes every cloud call take virtual time, as a real call takes
// tens of milliseconds: without it a fan-out of hundreds of sends would
// happen in one virtual instant and trip per-second API limits no real
// function could reach.
type latency struct {
	clk  *clocktest.Clock
	d    time.Duration
	base http.RoundTripper
}

func (l *latency) RoundTrip(r *http.Request) (*http.Response, error) {
	l.clk.Advance(l.d)
	return l.base.RoundTrip(r)
}

// toEmulator is a transport that sends COS's virtual-hosted names to the
// emulator (a wrapping RoundTripper replaces the store's own endpoint
// override) and everything else where it is addressed.
func toEmulator(emu string) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".myqcloud.com") {
			addr = emu
		}
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// sink is a generic-webhook receiver that keeps every notification and
// checks each one's signature, as a real receiver would.
type sink struct {
	t      *testing.T
	secret string
	srv    *httptest.Server
	mu     sync.Mutex
	got    []notify.WebhookPayload
	raw    syncBuf
}

func newSink(t *testing.T, secret string) *sink {
	s := &sink{t: t, secret: secret}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if sig := r.Header.Get(notify.SignatureHeader); sig != notify.WebhookSignature(secret, body) {
			t.Errorf("notification with a bad signature %q", sig)
		}
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("notification is not the webhook payload: %v", err)
		}
		s.mu.Lock()
		s.got = append(s.got, p)
		s.mu.Unlock()
		_, _ = s.raw.Write(append(body, '\n'))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// spec is the BACKUPFLOW_NOTIFY value that posts here.
func (s *sink) spec(path string) string {
	return "webhook:" + s.srv.URL + path + "?secret=" + s.secret
}

func (s *sink) payloads() []notify.WebhookPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.WebhookPayload(nil), s.got...)
}

// stack is the whole system (CMQ queues, COS ledger, every cloud) against
// one emulator over HTTP, driven by hand the way the platform drives it.
type stack struct {
	t      *testing.T
	clk    *clocktest.Clock
	emu    *emulator.Emulator
	srv    *httptest.Server
	app    *app.App
	create invoke.Handler
	mig    invoke.Handler
	poll   invoke.Handler
	out    *syncBuf // JSON logs and print: notifications
	rng    *rand.Rand
}

type stackOptions struct {
	emu     emulator.Options
	env     map[string]string
	shuffle bool // hand each received batch over in a random order
}

func newStack(t *testing.T, so stackOptions) *stack {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC))
	eo := so.emu
	eo.Now = clk.Now
	if eo.JobDuration == 0 {
		eo.JobDuration = 3 * time.Minute
	}
	emu, err := emulator.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	vars := emu.Env(srv.URL)
	maps.Copy(vars, emulator.CloudQueues("ledger-"+strings.ReplaceAll(t.Name(), "/", "-")))
	vars["BACKUPFLOW_NOTIFY"], vars["BACKUPFLOW_LOG_LEVEL"] = "print:", "warn"
	for k, v := range so.env {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	a, err := app.Open(context.Background(), cfg, app.Options{Now: clk.Now, Getenv: os.Getenv, Stdout: out, Seed: 7,
		HTTPClient: &http.Client{Transport: &latency{clk: clk, d: 60 * time.Millisecond, base: toEmulator(addr)}}})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, clk: clk, emu: emu, srv: srv, app: a, out: out, rng: rand.New(rand.NewPCG(eo.Seed, 99))}
	// Every handler comes from the function table, as each main builds it;
	// the only seam is the drained queue, reordered when asked.
	var wrap func(function.Receiver) function.Receiver
	if so.shuffle {
		wrap = func(q function.Receiver) function.Receiver { return &shuffler{q: q, s: s} }
	}
	build := func(fn string) invoke.Handler {
		entry, _ := app.Lookup(fn)
		h, err := entry.Handler(a, wrap)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	s.create, s.mig, s.poll = build(app.CreateBackup), build(app.StartMigration), build(app.PollStatus)
	return s
}

// shuffler hands each received batch over in a random order: CMQ keeps
// send order, a real fleet of consumers does not.
type shuffler struct {
	q function.Receiver
	s *stack
}

func (r *shuffler) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	msgs, err := r.q.Receive(ctx, max, wait)
	r.s.shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	return msgs, err
}

func (r *shuffler) Delete(ctx context.Context, receipt string) error { return r.q.Delete(ctx, receipt) }

var rngMu sync.Mutex

func (s *stack) shuffle(n int, swap func(i, j int)) {
	rngMu.Lock()
	defer rngMu.Unlock()
	s.rng.Shuffle(n, swap)
}

// drainTimer is the SCF timer that makes create-backup and poll-status drain
// their queues.
const drainTimer = `{"Type":"Timer","TriggerName":"drain","Time":"2026-11-23T18:00:00Z","Message":"drain"}`

// tick fires the drain timers once, `workers` concurrent invocations per
// function as SCF runs them, and returns how many invocations failed (the
// platform simply fires the timer again).
func (s *stack) tick(workers int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range workers {
		for _, h := range []invoke.Handler{s.create, s.poll} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := h(context.Background(), []byte(drainTimer)); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return failed
}

// pending counts the messages still in the work and poll queues.
func (s *stack) pending() (visible, hidden int) {
	for _, q := range []string{"backupflow-work", "backupflow-poll"} {
		v, i, d := s.emu.CMQ.Stats(q)
		visible += v
		hidden += i + d
	}
	return visible, hidden
}

// runUntilQuiet drains until both queues are empty, jumping the virtual
// clock to the next due message whenever nothing is visible. It returns the
// number of failed invocations.
func (s *stack) runUntilQuiet(workers int, maxVirtual time.Duration) int {
	s.t.Helper()
	start := s.clk.Now()
	failed := 0
	for i := 0; ; i++ {
		failed += s.tick(workers)
		vis, hidden := s.pending()
		if vis == 0 && hidden == 0 {
			return failed
		}
		if vis == 0 {
			next, ok := s.emu.CMQ.NextDue()
			if ok {
				s.clk.Set(next)
			}
		}
		if el := s.clk.Now().Sub(start); el > maxVirtual || i > 200000 {
			s.t.Fatalf("queues not empty after %s of virtual time (%d ticks): %d visible, %d hidden", el, i, vis, hidden)
		}
	}
}

// outcomes reads every job's outcome record from the ledger.
func (s *stack) outcomes() map[string]flow.Outcome {
	s.t.Helper()
	ctx := context.Background()
	keys, err := s.app.Ledger.List(ctx, "jobs/")
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]flow.Outcome{}
	for _, k := range keys {
		if !strings.HasSuffix(k, "/outcome") {
			continue
		}
		b, ok, err := s.app.Ledger.Get(ctx, k)
		if err != nil || !ok {
			s.t.Fatalf("outcome %s: %v %v", k, ok, err)
		}
		var o flow.Outcome
		if err := json.Unmarshal(b, &o); err != nil {
			s.t.Fatalf("outcome %s: %v", k, err)
		}
		if _, dup := out[o.JobID]; dup {
			s.t.Errorf("job %s has two outcome records", o.JobID)
		}
		out[o.JobID] = o
	}
	return out
}

// cloudJobs counts the emulator's backups and imports by instance and name.
func (s *stack) cloudJobs() map[string][]fixture.Job {
	m := map[string][]fixture.Job{}
	for _, j := range s.emu.Jobs() {
		k := j.InstanceID + "/" + j.Name
		m[k] = append(m[k], j)
	}
	return m
}

// fleet generates n running instances mixing every product, ids shaped as
// each cloud shapes them. tagged says which ones carry the nightly tag.
func fleet(n int, tagged func(i int) bool) (*fixture.Set, []fixture.Instance) {
	set := fixture.Default()
	set.Instances = nil
	for i := range n {
		in := fixture.Instance{Tags: map[string]string{"team": "db"}}
		switch i % 4 {
		// Every instance kind that limits the method or changes the
		// lookup is in the mix (issue 15), so redelivered creates must
		// adopt the first backup whatever its method or file format.
		case 0:
			in.Product, in.ID = provider.MySQL, fmt.Sprintf("cdb-s%07d", i)
			in.Databases = []fixture.Database{{Name: "app", Tables: []string{"t1"}}}
			if i%8 == 4 {
				in.DeviceType = "BASIC" // snapshot only
			}
		case 1:
			in.Product, in.ID = provider.SQLServer, fmt.Sprintf("mssql-s%07d", i)
			in.Databases = []fixture.Database{{Name: "db1"}, {Name: "db2"}}
			if i%8 == 5 {
				in.BackupFormat = "single" // listed per database, without an Id
			}
		case 2:
			in.Product, in.ID = provider.MongoDB, fmt.Sprintf("cmgo-s%07d", i)
			switch i % 12 {
			case 6:
				in.MachineType = "HCD" // physical
			case 10:
				in.MachineType, in.TDE = "HCD", true // snapshot
			}
		case 3:
			in.Product, in.ID, in.Engine = provider.HuaweiRDS, fmt.Sprintf("%032xin01", i), "MySQL"
			in.Region = "cn-north-4"
		}
		in.Name = "soak-" + in.ID[:min(len(in.ID), 12)]
		if tagged(i) {
			in.Tags[fixture.NightlyTagKey] = fixture.NightlyTagValue
		}
		set.Instances = append(set.Instances, in)
	}
	return set, set.Instances
}
