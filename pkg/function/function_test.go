package function

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/clock"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/memqueue"
)

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, flow.Notice) error { return nil }

// stubProvider finishes every job at once. A drain's workers call it
// concurrently.
type stubProvider struct {
	mu     sync.Mutex
	starts int
}

func (p *stubProvider) Start(context.Context, provider.Spec) (provider.Ref, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	return "backup/1", nil
}
func (p *stubProvider) Status(context.Context, provider.Spec, provider.Ref) (provider.Status, error) {
	return provider.Status{State: provider.Succeeded}, nil
}
func (p *stubProvider) Find(context.Context, provider.Spec) (provider.Ref, bool, error) {
	return "", false, nil
}

func newService(t *testing.T) (*flow.Service, *queue.Queue, *queue.Queue, *queue.Queue) {
	t.Helper()
	return newServiceWith(t, &stubProvider{})
}

// startClock records when each create reached the cloud, by product.
type startClock struct {
	stubProvider
	now func() time.Time
	at  map[provider.Product][]time.Time
}

func (p *startClock) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	p.mu.Lock()
	p.at[spec.Product] = append(p.at[spec.Product], p.now())
	p.mu.Unlock()
	return p.stubProvider.Start(ctx, spec)
}

func newServiceWith(t *testing.T, p provider.Provider) (*flow.Service, *queue.Queue, *queue.Queue, *queue.Queue) {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	work := memqueue.Open(name+"-work", nil)
	poll := memqueue.Open(name+"-poll", nil)
	dead := memqueue.Open(name+"-dead", nil)
	l, err := ledger.Open(context.Background(), "mem://"+name, openurl.Env{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := flow.New(flow.Config{Targets: []flow.Target{{InstanceID: "cdb-c1nl9rpv"}}}, flow.Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return p, nil },
		Work:      work, Poll: poll, Dead: dead, Ledger: l, Notifier: nopNotifier{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, work, poll, dead
}

// virtualWorkers: a drain on a virtual clock runs one worker, as the
// simulator's does. A worker reads the clock when it runs, after the drain
// may have moved it on to a later slot, so starts would be timed by the
// goroutines' scheduling, not by the slots.
const virtualWorkers = 1

func quiet() Options { return Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))} }

func TestUnsupportedTriggers(t *testing.T) {
	svc, work, poll, _ := newService(t)
	cos, _ := os.ReadFile("../../events/start-migration/scf-cos-put.json")
	timer, _ := os.ReadFile("../../events/create-backup/scf-timer.json")
	tests := []struct {
		name    string
		h       func(context.Context, []byte) ([]byte, error)
		payload []byte
	}{
		{"upload to create-backup", CreateBackup(svc, work, quiet()), cos},
		{"upload to poll-status", PollStatus(svc, poll, quiet()), cos},
		{"timer to start-migration", StartMigration(svc, quiet()), timer},
		{"garbage", PollStatus(svc, poll, quiet()), []byte("not json")},
	}
	for _, tt := range tests {
		if _, err := tt.h(context.Background(), tt.payload); err == nil {
			t.Errorf("%s: want an error", tt.name)
		}
	}
}

func TestSQSBatchFailsOnlyTheBadRecord(t *testing.T) {
	svc, _, poll, dead := newService(t)
	payload, err := os.ReadFile("../../events/poll-status/aws-sqs-malformed-record.json")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := event.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, m := range tr.Messages {
		if m.Err != nil {
			bad = append(bad, m.ID)
		}
	}
	out, err := PollStatus(svc, poll, quiet())(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil {
		t.Fatal(err)
	}
	if len(br.BatchItemFailures) != len(bad) || len(bad) == 0 || br.BatchItemFailures[0].ItemIdentifier != bad[0] {
		t.Errorf("failures = %+v; want exactly the unreadable records %v", br.BatchItemFailures, bad)
	}
	_ = dead
}

func TestDrainRunsJobsToTheirEnd(t *testing.T) {
	svc, work, poll, _ := newService(t)
	if _, err := svc.Nightly(context.Background(), time.Now(), flow.Selection{}); err != nil {
		t.Fatal(err)
	}
	drainEv := []byte(`{"Type":"Timer","TriggerName":"drain","Time":"2026-11-23T18:00:00Z","Message":"drain"}`)
	out, err := CreateBackup(svc, work, quiet())(context.Background(), drainEv)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	_ = json.Unmarshal(out, &rep)
	if rep.Drained != 1 {
		t.Errorf("work drain handled %d; want 1", rep.Drained)
	}
	// The poll message is due later; a drain now finds nothing due yet.
	out, _ = PollStatus(svc, poll, quiet())(context.Background(), drainEv)
	var prep Report
	_ = json.Unmarshal(out, &prep)
	if prep.Drained != 0 {
		t.Errorf("poll drain handled %d early", rep.Drained)
	}
}

func TestDrainKeepsHeadroomBeforeTheDeadline(t *testing.T) {
	svc, work, _, _ := newService(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(5*time.Second))
	defer cancel()
	out, err := CreateBackup(svc, work, Options{Headroom: 10 * time.Second, Logger: quiet().Logger})(ctx,
		[]byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if json.Unmarshal(out, &rep) != nil || !rep.Leftover || rep.Drained != 0 {
		t.Errorf("report %s; want nothing drained and leftover set", out)
	}
}

func TestPacerSpacesCreatesAtTheRate(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	p := newPacer(func() time.Time { return now }, clock.Sleep)
	m := job.Message{JobID: "jx", Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv"}}
	body, _ := m.Encode()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx, body); err != nil {
		t.Fatalf("first create waited: %v", err)
	}
	if err := p.wait(ctx, body); err == nil {
		t.Errorf("second cdb create in the same instant did not wait (limit 5/s)")
	}
	if got := p.next[provider.MySQL].Sub(now); got != 400*time.Millisecond {
		t.Errorf("next slot after two creates = +%s; want +400ms", got)
	}
}

// TestDrainPacesThroughItsSleep: the pacer waits through Options.Sleep, so
// a virtual clock's sleep paces a drain without real waiting: three MySQL
// creates (5/s) are spaced 200 ms apart on the clock.
func TestDrainPacesThroughItsSleep(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	svc, work, _, _ := newService(t)
	for _, id := range []string{"j1", "j2", "j3"} {
		m := job.Message{JobID: id, Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-" + id}}
		body, _ := m.Encode()
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
	var slept []time.Duration
	o := quiet()
	o.Now, o.Pace, o.Workers = clk.Now, true, virtualWorkers
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return clk.Sleep(ctx, d)
	}
	start := clk.Now()
	out, err := CreateBackup(svc, work, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(slept, want) {
		t.Errorf("pacer slept %v; want %v (%s)", slept, want, out)
	}
	if got := clk.Now().Sub(start); got != 400*time.Millisecond {
		t.Errorf("virtual clock moved %s; want 400ms", got)
	}
}

// TestDrainPacesEachProductApart: a product at its create limit does not
// hold up another's creates in the same batch. Two MySQL creates (5/s)
// ahead of eight MongoDB ones (20/s) take as long as the longer of the two
// chains, not their sum.
func TestDrainPacesEachProductApart(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	svc, work, _, _ := newService(t)
	send := func(p provider.Product, id string) {
		m := job.Message{JobID: id, Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: p, InstanceID: id}}
		body, _ := m.Encode()
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		send(provider.MySQL, fmt.Sprintf("cdb-%d", i))
	}
	for i := range 8 {
		send(provider.MongoDB, fmt.Sprintf("cmgo-%d", i))
	}
	o := quiet()
	o.Now, o.Pace, o.Sleep, o.Workers = clk.Now, true, clk.Sleep, virtualWorkers
	start := clk.Now()
	if _, err := CreateBackup(svc, work, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`)); err != nil {
		t.Fatal(err)
	}
	gap := func(p provider.Product) time.Duration {
		return time.Duration(float64(time.Second) / provider.LimitsOf(p, provider.Backup).CreatePerSecond)
	}
	want := max(1*gap(provider.MySQL), 7*gap(provider.MongoDB))
	if got := clk.Now().Sub(start); got != want {
		t.Errorf("drain took %s of the clock; want %s (the longer product chain)", got, want)
	}
}

// TestDrainReceivesAheadWhileWaiting: while a batch waits for a product's
// slot, the drain takes the next batch, so sixteen MySQL creates ahead of
// sixteen MongoDB ones take as long as the MySQL chain alone.
func TestDrainReceivesAheadWhileWaiting(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	svc, work, _, _ := newService(t)
	for i := range 32 {
		p, id := provider.MySQL, fmt.Sprintf("cdb-%d", i)
		if i >= 16 {
			p, id = provider.MongoDB, fmt.Sprintf("cmgo-%d", i)
		}
		m := job.Message{JobID: id, Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: p, InstanceID: id, Name: job.Name(id)}}
		body, _ := m.Encode()
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
	o := quiet()
	o.Now, o.Pace, o.Sleep, o.Workers = clk.Now, true, clk.Sleep, virtualWorkers
	start := clk.Now()
	out, err := CreateBackup(svc, work, o)(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := 15 * time.Duration(float64(time.Second)/provider.LimitsOf(provider.MySQL, provider.Backup).CreatePerSecond)
	if got := clk.Now().Sub(start); got != want {
		t.Errorf("drain took %s of the clock; want %s (the MySQL chain alone) — %s", got, want, out)
	}
}

// TestSelectionKeysMatchTheSelection keeps the keys pkg/event recognises as
// a schedule's Input equal to the fields flow.ParseSelection reads.
func TestSelectionKeysMatchTheSelection(t *testing.T) {
	var fields []string
	st := reflect.TypeFor[flow.Selection]()
	for i := range st.NumField() {
		name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	if !slices.Equal(fields, event.SelectionKeys) {
		t.Errorf("flow.Selection keys %v; event.SelectionKeys %v", fields, event.SelectionKeys)
	}
}

// TestDrainLetsOtherProductsPastABacklog: a backlog of one product's
// creates (retries pile up behind MySQL's 5/s) does not hold back the
// creates of products with room. With at most 64 messages held, 80 MySQL
// creates ahead of 16 MongoDB ones kept the MongoDB ones out of the drain
// until the MySQL chain had shrunk below 64 (3.2 s); they go at once now.
func TestDrainLetsOtherProductsPastABacklog(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	starts := &startClock{now: clk.Now, at: map[provider.Product][]time.Time{}}
	svc, work, _, _ := newServiceWith(t, starts)
	for i := range 96 {
		p, id := provider.MySQL, fmt.Sprintf("cdb-m%07d", i)
		if i >= 80 {
			p, id = provider.MongoDB, fmt.Sprintf("cmgo-m%07d", i)
		}
		m := job.Message{JobID: id, Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: p, InstanceID: id, Name: job.Name(id)}}
		body, _ := m.Encode()
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
	o := quiet()
	o.Now, o.Pace, o.Sleep, o.Workers = clk.Now, true, clk.Sleep, virtualWorkers
	start := clk.Now()
	// As SCF invokes it: create-backup's 900 s timeout.
	ctx := invoke.WithMeta(context.Background(), invoke.Meta{Platform: "scf", Deadline: start.Add(900 * time.Second)})
	out, err := CreateBackup(svc, work, o)(ctx, []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err != nil {
		t.Fatal(err)
	}
	mongo := starts.at[provider.MongoDB]
	if len(mongo) != 16 || len(starts.at[provider.MySQL]) != 80 {
		t.Fatalf("started %d MongoDB and %d MySQL backups; want 16 and 80 (%s)", len(mongo), len(starts.at[provider.MySQL]), out)
	}
	if lastMongo, want := mongo[15].Sub(start), time.Second; lastMongo > want {
		t.Errorf("the last MongoDB create went %s into the drain; want within %s (16 at 20/s)", lastMongo, want)
	}
}

// instanceStarts records when each instance's backup was started.
type instanceStarts struct {
	stubProvider
	now func() time.Time
	at  map[string]time.Time
}

func (p *instanceStarts) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	p.mu.Lock()
	p.at[spec.InstanceID] = p.now()
	p.mu.Unlock()
	return p.stubProvider.Start(ctx, spec)
}

// TestDrainStartsAnOftenReceivedMessageAtOnce: a create received six times
// (its earlier holders died before its slot came) arrives behind a backlog
// of its product's creates. Booked in turn, it waited 16 s of slots — held,
// so exposed to the next death, which costs it another receive without a
// try; in the 1,000-job crash soak (seed 7) 140 healthy creates reached the
// receive limit that way with no failure ever recorded. It is started at
// once instead; the backlog keeps its pacing.
func TestDrainStartsAnOftenReceivedMessageAtOnce(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	starts := &instanceStarts{now: clk.Now, at: map[string]time.Time{}}
	name := strings.NewReplacer("/", "-").Replace(t.Name())
	work := memqueue.Open(name+"-work", &memqueue.Options{Now: clk.Now})
	l, err := ledger.Open(context.Background(), "mem://"+name, openurl.Env{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := flow.New(flow.Config{}, flow.Deps{
		Providers: func(provider.Product) (provider.Provider, error) { return starts, nil },
		Work:      work, Poll: memqueue.Open(name+"-poll", &memqueue.Options{Now: clk.Now}), Dead: memqueue.Open(name+"-dead", nil),
		Ledger: l, Notifier: nopNotifier{}, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	send := func(id string) {
		m := job.Message{JobID: id, Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: id, Name: job.Name(id)}}
		body, _ := m.Encode()
		if _, err := work.Send(context.Background(), body, 0); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	send("cdb-vet00001")
	for range 6 { // received, and its holder died: visible again after 30 s
		if msgs, err := work.Receive(ctx, 1, 0); err != nil || len(msgs) != 1 {
			t.Fatalf("receive: %v %v", msgs, err)
		}
		clk.Advance(31 * time.Second)
	}
	if msgs, err := work.Receive(ctx, 1, 0); err != nil || len(msgs) != 1 || msgs[0].Receives != 7 {
		t.Fatalf("receive: %+v %v; want the veteran's 7th", msgs, err)
	}
	for i := range 80 { // the backlog, due before the veteran is visible again
		send(fmt.Sprintf("cdb-b%07d", i))
	}
	clk.Advance(31 * time.Second)
	o := quiet()
	o.Now, o.Pace, o.Sleep, o.Workers = clk.Now, true, clk.Sleep, virtualWorkers
	start := clk.Now()
	dctx := invoke.WithMeta(ctx, invoke.Meta{Platform: "scf", Deadline: start.Add(900 * time.Second)})
	out, err := CreateBackup(svc, work, o)(dctx, []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(starts.at) != 81 {
		_, vet := starts.at["cdb-vet00001"]
		t.Fatalf("%d backups started; want 81 (%s; veteran started: %v)", len(starts.at), out, vet)
	}
	if d := starts.at["cdb-vet00001"].Sub(start); d > time.Second {
		t.Errorf("the often-received create started %s into the drain; want at once", d)
	}
	if d := starts.at["cdb-b0000079"].Sub(start); d < 10*time.Second {
		t.Errorf("the backlog's last create started %s into the drain; want it still paced (80 at 5/s)", d)
	}
}
