package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/backupflow/backupflow/pkg/function"
	"maps"
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
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/provider"
)

// stack is the whole system against the emulator, driven by hand.
type stack struct {
	t      *testing.T
	clk    *clocktest.Clock
	emu    *emulator.Emulator
	srv    *httptest.Server
	app    *app.App
	create invoke.Handler
	mig    invoke.Handler
	poll   invoke.Handler
	out    *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newStack(t *testing.T, eo emulator.Options, env map[string]string) *stack {
	t.Helper()
	clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
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
	vars := emu.Env(srv.URL)
	maps.Copy(vars, emulator.CloudQueues("ledger-"+strings.ReplaceAll(t.Name(), "/", "-")))
	vars["BACKUPFLOW_NOTIFY"], vars["BACKUPFLOW_LOG_LEVEL"] = "print:", "warn"
	for k, v := range env {
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
	a, err := app.Open(context.Background(), cfg, app.Options{Now: clk.Now, Getenv: os.Getenv, Stdout: out, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, clk: clk, emu: emu, srv: srv, app: a, out: out,
		create: tableHandler(t, a, app.CreateBackup), mig: tableHandler(t, a, app.StartMigration),
		poll: tableHandler(t, a, app.PollStatus)}
}

// tableHandler builds fn from the function table, as its main does.
func tableHandler(t *testing.T, a *app.App, fn string) invoke.Handler {
	t.Helper()
	entry, ok := app.Lookup(fn)
	if !ok {
		t.Fatalf("no %s in the function table", fn)
	}
	h, err := entry.Handler(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (s *stack) invoke(h invoke.Handler, payload string) []byte {
	s.t.Helper()
	out, err := h(context.Background(), []byte(payload))
	if err != nil {
		s.t.Fatalf("invoke: %v", err)
	}
	return out
}

// runFor advances the virtual clock minute by minute, firing the drain
// timers as SCF would, until done reports true.
func (s *stack) runFor(max time.Duration, done func() bool) {
	s.t.Helper()
	drain := `{"Type":"Timer","TriggerName":"drain","Time":"2026-11-23T18:00:00Z","Message":"drain"}`
	for el := time.Duration(0); el < max; el += 30 * time.Second {
		s.invoke(s.create, drain)
		s.invoke(s.poll, drain)
		if done() {
			return
		}
		s.clk.Advance(30 * time.Second)
	}
	s.t.Fatalf("not done after %s of virtual time; notifications so far:\n%s", max, s.out.String())
}

// jobsPerName counts the emulator's backups and imports by name.
func (s *stack) jobsPerName() map[string]int {
	m := map[string]int{}
	for _, j := range s.emu.Jobs() {
		m[j.InstanceID+"/"+j.Name]++
	}
	return m
}

func TestEndToEnd_NightlyOverCMQ(t *testing.T) {
	for _, tc := range []struct {
		name      string
		redeliver float64
	}{{"clean", 0}, {"30 percent redelivered", 0.3}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, emulator.Options{RedeliverRate: tc.redeliver, Seed: 3}, nil)
			timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
			var rep function.Report
			if err := json.Unmarshal(s.invoke(s.create, timer), &rep); err != nil {
				t.Fatal(err)
			}
			// Of the default fleet's tagged instances, the isolated cdb, the
			// creating sqlserver and the read-only cdb are reported as skipped.
			wantJobs := 0
			for _, in := range s.emu.Fleet.Instances {
				if in.Tags[fixture.NightlyTagKey] == fixture.NightlyTagValue && !in.ReadOnly && in.StatusOrDefault() == "running" {
					wantJobs++
				}
			}
			if len(rep.Jobs) != wantJobs || rep.Skipped != 3 {
				t.Fatalf("fan-out: %d jobs, %d skipped; want %d jobs, 3 skipped", len(rep.Jobs), rep.Skipped, wantJobs)
			}
			s.runFor(3*time.Hour, func() bool { return strings.Contains(s.out.String(), "nightly-") })
			per := s.jobsPerName()
			if len(per) != wantJobs {
				t.Errorf("emulator holds %d distinct backups; want %d", len(per), wantJobs)
			}
			for name, n := range per {
				if n != 1 {
					t.Errorf("%s backed up %d times; want exactly once", name, n)
				}
			}
			for _, j := range s.emu.Jobs() {
				if j.State != provider.Succeeded {
					t.Errorf("%s %s ended %v", j.InstanceID, j.Name, j.State)
				}
			}
			if n := strings.Count(s.out.String(), "(job nightly-"); n != 1 {
				t.Errorf("run summaries printed %d times; want 1:\n%s", n, s.out.String())
			}
		})
	}
}

// sampleETag is the ETag in events/start-migration/scf-cos-put.json.
const sampleETag = "5d41402abc4b2a76b9719d911017c592"

func TestEndToEnd_ImportFromCOSDeliveredTwice(t *testing.T) {
	s := newStack(t, emulator.Options{}, nil)
	// The object the sample event describes, with its ETag.
	if err := s.emu.COS.PutAs("backups-1250000000", "imports/mssql-rdc0gajn/orders.bak", append([]byte("TAPE"), make([]byte, 1020)...), sampleETag); err != nil {
		t.Fatal(err)
	}
	ev, err := os.ReadFile("../../events/start-migration/scf-cos-put.json")
	if err != nil {
		t.Fatal(err)
	}
	s.invoke(s.mig, string(ev))
	s.invoke(s.mig, string(ev)) // COS delivers at least once
	s.runFor(2*time.Hour, func() bool { return strings.Contains(s.out.String(), "Import of") })
	imports := 0
	for _, j := range s.emu.Jobs() {
		if j.Op == provider.Import && j.InstanceID == "mssql-rdc0gajn" {
			imports++
			if j.State != provider.Succeeded {
				t.Errorf("import ended %v: %s", j.State, j.Detail)
			}
		}
	}
	if imports != 1 {
		t.Errorf("imports in the emulator = %d; want exactly 1", imports)
	}
	if n := strings.Count(s.out.String(), "Import of"); n != 1 {
		t.Errorf("import notifications = %d; want 1:\n%s", n, s.out.String())
	}
}

func TestEndToEnd_UploadThatIsNotABackupFailsLoudly(t *testing.T) {
	s := newStack(t, emulator.Options{}, nil)
	if err := s.emu.COS.PutAs("backups-1250000000", "imports/mssql-rdc0gajn/orders.bak", []byte("PK\x03\x04zipzipzip"), sampleETag); err != nil {
		t.Fatal(err)
	}
	ev, _ := os.ReadFile("../../events/start-migration/scf-cos-put.json")
	s.invoke(s.mig, string(ev))
	if !strings.Contains(s.out.String(), "failed") || len(s.emu.Jobs()) != 0 {
		t.Errorf("a zip uploaded as .bak: notifications %q, emulator jobs %d; want one failure and no import", s.out.String(), len(s.emu.Jobs()))
	}
}
