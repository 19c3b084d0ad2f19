package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/notify"
	"github.com/backupflow/backupflow/pkg/provider"
)

// soakSize is the fleet of the soak: 100 jobs in `make test`, 500 with
// BACKUPFLOW_SOAK=long (`make soak`).
func soakSize() int {
	if os.Getenv("BACKUPFLOW_SOAK") == "long" {
		return 500
	}
	return 100
}

// cosPutEvent is an SCF COS trigger for one uploaded object.
func cosPutEvent(key, etag string) string {
	return fmt.Sprintf(`{"Records":[{"cos":{"cosSchemaVersion":"1.0","cosNotificationId":"soak",
"cosBucket":{"name":"backups","appid":"1250000000","region":"gz"},
"cosObject":{"key":"/1250000000/backups/%s","size":1024,"url":"https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/%s",
"meta":{"Content-Type":"application/octet-stream","ETag":"\"%s\""},"vid":""}},
"event":{"eventName":"cos:ObjectCreated:Put","eventVersion":"1.0","eventSource":"qcs::cos","eventTime":1773500000}}]}`, key, key, etag)
}

// retry calls f until it succeeds, as the platform retries a failed
// invocation and a user repeats a failed command: a little later each time.
func (s *stack) retry(what string, f func() error) {
	t := s.t
	t.Helper()
	var err error
	for range 200 {
		if err = f(); err == nil {
			return
		}
		s.clk.Set(s.clk.Now().Add(2 * time.Second))
	}
	t.Fatalf("%s: still failing after 200 tries: %v", what, err)
}

// TestSoak runs the whole system over a fleet with 20 % of cloud and queue
// requests broken (internal errors, 5xx, dropped connections, slow replies,
// throttling, busy instances), 10 % of acknowledged messages redelivered,
// every batch handed over in a random order, two concurrent consumers per
// queue, the nightly timer, on-demand requests and COS events delivered
// more than once. Every job must end in exactly one outcome, the clouds
// must hold at most one backup or import per job (exactly one for each job
// that succeeded), and the notifications must match the outcomes one to one.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault soak runs the whole system")
	}
	n := soakSize()
	seed := uint64(20261123)
	if v, err := strconv.ParseUint(os.Getenv("BACKUPFLOW_SOAK_SEED"), 10, 64); err == nil {
		seed = v // reproduce another mix of faults
	}
	nImports := max(n/20, 1)
	nDemand := n * 3 / 20
	nNightly := n - nImports - nDemand
	set, _ := fleet(nNightly+nDemand, func(i int) bool { return i < nNightly })
	for i := range nImports {
		set.Instances = append(set.Instances, fixture.Instance{Product: provider.SQLServer, ID: fmt.Sprintf("mssql-imp%05d", i),
			Databases: []fixture.Database{{Name: "db1"}}})
	}
	inj := fault.New(0.2, seed) // every kind: internal, 5xx, drop, slow, throttle, busy
	inj.SlowDelay = time.Millisecond
	sk := newSink(t, "soak-webhook-signing-secret")
	s := newStack(t, stackOptions{
		emu:     emulator.Options{Fleet: set, Faults: inj, RedeliverRate: 0.1, Seed: seed},
		env:     map[string]string{"BACKUPFLOW_NOTIFY": sk.spec("/hook/soak")},
		shuffle: true,
	})
	ctx := context.Background()
	began := time.Now()

	// Causes, each delivered at least once.
	want := map[string]string{} // job id -> cause
	var run string
	// The fan-out is one invocation of ~n sends that fails as a whole when
	// any send fails (the timer retry re-sends everything, idempotently);
	// at 20 % faults it could never complete, so the timer fires — twice,
	// as timers may — before the faults start. Everything after it runs
	// under faults.
	inj.SetRate(0)
	timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
	for range 2 {
		s.retry("nightly timer", func() error {
			out, err := s.create(ctx, []byte(timer))
			if err != nil {
				return err
			}
			var rep function.Report
			if err := json.Unmarshal(out, &rep); err != nil {
				return err
			}
			if len(rep.Jobs) != nNightly {
				t.Fatalf("nightly fanned out %d jobs; want %d", len(rep.Jobs), nNightly)
			}
			run = rep.Run
			for _, id := range rep.Jobs {
				want[id] = "nightly"
			}
			return nil
		})
	}
	inj.SetRate(0.2)
	for i := range nDemand {
		in := set.Instances[nNightly+i].ID
		var id string
		s.retry("on-demand request", func() (err error) {
			id, err = s.app.Service.Enqueue(ctx, flow.Request{ID: []string{"soak", in}, Op: provider.Backup, Instance: in,
				Origin: job.Origin{Source: "cli"}})
			return err
		})
		want[id] = "on-demand"
	}
	for i := range nImports {
		key := fmt.Sprintf("imports/mssql-imp%05d/soak.bak", i)
		etag := fmt.Sprintf("%032x", i+1)
		if err := s.emu.COS.PutAs("backups-1250000000", key, append([]byte("TAPE"), make([]byte, 1020)...), etag); err != nil {
			t.Fatal(err)
		}
		ev := cosPutEvent(key, etag)
		for range 2 { // COS delivers at least once
			s.retry("cos event", func() error {
				out, err := s.mig(ctx, []byte(ev))
				if err != nil {
					return err
				}
				var rep function.Report
				if err := json.Unmarshal(out, &rep); err != nil || len(rep.Jobs) != 1 {
					t.Fatalf("start-migration report %s: %v", out, err)
				}
				want[rep.Jobs[0]] = "import"
				return nil
			})
		}
	}
	if len(want) != n {
		t.Fatalf("%d distinct jobs caused; want %d", len(want), n)
	}

	failedInvocations := s.runUntilQuiet(2, 72*time.Hour)

	// Exactly one outcome per job, and none for anything else.
	outs := s.outcomes()
	counts := map[flow.Result]int{}
	for id, cause := range want {
		o, ok := outs[id]
		if !ok {
			t.Errorf("job %s (%s) has no outcome: lost", id, cause)
			continue
		}
		counts[o.Result]++
	}
	for id := range outs {
		if _, ok := want[id]; !ok {
			t.Errorf("outcome for job %s that nothing caused", id)
		}
	}

	// At most one cloud job per job; exactly one, succeeded, per success.
	byName := map[string]string{} // instance/name -> job id
	for id := range want {
		o := outs[id]
		byName[o.Instance+"/"+job.Name(id)] = id
	}
	cloud := s.cloudJobs()
	for key, jobs := range cloud {
		if len(jobs) != 1 {
			t.Errorf("%s: %d cloud jobs; want exactly one", key, len(jobs))
		}
		if _, ok := byName[key]; !ok {
			t.Errorf("%s: a cloud job no job asked for", key)
		}
	}
	for key, id := range byName {
		o := outs[id]
		jobs := cloud[key]
		switch o.Result {
		case flow.Succeeded:
			if len(jobs) != 1 || jobs[0].State != provider.Succeeded {
				t.Errorf("job %s succeeded but the cloud holds %v", id, jobs)
			}
		case flow.Failed:
			// An injected fault is never permanent, so a failure must come
			// from the cloud job itself.
			if len(jobs) != 1 || jobs[0].State != provider.Failed {
				t.Errorf("job %s failed (%s %s) but the cloud holds %v", id, o.Code, o.Message, jobs)
			}
		}
	}

	// Notifications match outcomes one to one: every on-demand job and
	// import, and every nightly job that did not succeed, is notified
	// once; nightly successes only in the run's single summary.
	perJob := map[string][]notify.WebhookPayload{}
	var summaries []notify.WebhookPayload
	for _, p := range sk.payloads() {
		if p.Job == run {
			summaries = append(summaries, p)
			continue
		}
		perJob[p.Job] = append(perJob[p.Job], p)
	}
	for id, cause := range want {
		o := outs[id]
		got := perJob[id]
		delete(perJob, id)
		wantN := 1
		if cause == "nightly" && o.Result == flow.Succeeded {
			wantN = 0
		}
		if len(got) != wantN {
			t.Errorf("job %s (%s, %s): %d notifications; want %d", id, cause, o.Result, len(got), wantN)
			continue
		}
		if wantN == 1 {
			wantLevel := "failure"
			if o.Result == flow.Succeeded {
				wantLevel = "success"
			}
			if got[0].Level != wantLevel || !strings.Contains(got[0].Title, string(o.Result)) {
				t.Errorf("job %s ended %s but was notified %s %q", id, o.Result, got[0].Level, got[0].Title)
			}
		}
	}
	for id, ps := range perJob {
		t.Errorf("%d notifications for %q, which is no job", len(ps), id)
	}
	if len(summaries) != 1 {
		t.Fatalf("run summary sent %d times; want once", len(summaries))
	}
	nightlyCounts := map[flow.Result]int{}
	for id, cause := range want {
		if cause == "nightly" {
			nightlyCounts[outs[id].Result]++
		}
	}
	if line := strings.SplitN(summaries[0].Text, "\n", 2)[0]; !strings.HasPrefix(line, fmt.Sprintf("%d jobs: ", nNightly)) ||
		(nightlyCounts[flow.Succeeded] > 0 && !strings.Contains(line, fmt.Sprintf("%d succeeded", nightlyCounts[flow.Succeeded]))) {
		t.Errorf("summary counts %q; the ledger says %d jobs %v", line, nNightly, nightlyCounts)
	}

	// The faults really happened.
	fc := inj.Counts()
	for _, k := range fault.All {
		if fc[k] == 0 {
			t.Errorf("no %s fault was injected; the soak proves nothing about it", k)
		}
	}
	if counts[flow.Succeeded] < n*8/10 {
		t.Errorf("only %d of %d jobs succeeded; retries should absorb 20 %% faults", counts[flow.Succeeded], n)
	}
	t.Logf("%d jobs in %s wall, %s virtual: outcomes %v; faults %v; %d failed invocations; %d notifications",
		n, time.Since(began).Round(time.Millisecond), s.clk.Now().Sub(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)), counts, fc,
		failedInvocations, len(sk.payloads()))
}
