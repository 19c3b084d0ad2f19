package app_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/provider"
)

// lostPolls runs a nightly fan-out until every create has handed its job
// to the poll queue, then lets time pass with no function running (an SCF
// outage) until CMQ has dropped every poll message at its max
// unacknowledged time: each job is "running" with nothing queued.
func lostPolls(t *testing.T, s *stack, outage time.Duration) function.Report {
	t.Helper()
	timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
	var rep function.Report
	if err := json.Unmarshal(s.invoke(s.create, timer), &rep); err != nil {
		t.Fatal(err)
	}
	drain := `{"Type":"Timer","TriggerName":"drain","Message":"drain"}`
	for i := 0; i < 20; i++ {
		s.invoke(s.create, drain)
		s.clk.Advance(10 * time.Second)
	}
	if v, f, d := s.emu.CMQ.Stats("backupflow-work"); v+f+d != 0 {
		t.Fatalf("work queue still holds %d messages after the creates", v+f+d)
	}
	if v, f, d := s.emu.CMQ.Stats("backupflow-poll"); v+f+d != len(rep.Jobs) {
		t.Fatalf("poll queue holds %d messages; want one per job (%d)", v+f+d, len(rep.Jobs))
	}
	s.clk.Advance(outage)
	if v, f, d := s.emu.CMQ.Stats("backupflow-poll"); v+f+d != 0 {
		t.Fatalf("poll queue still holds %d messages after the outage; the test loses none", v+f+d)
	}
	return rep
}

// TestEndToEnd_SweepRecoversLostMessages (issue 13 item 11): the poll
// messages of a nightly run are lost (CMQ drops them at the queue's max
// unacknowledged time while the functions are down). The sweep on the
// create-backup drain timer finds each job with no outcome and nothing
// queued for longer than the poll cap and re-enqueues its step: every job
// ends succeeded, one backup each, and the run's one summary is sent. Was:
// the jobs stayed "running" forever and the summary never came.
func TestEndToEnd_SweepRecoversLostMessages(t *testing.T) {
	s := newStack(t, emulator.Options{CMQMaxUnacked: time.Hour}, nil)
	rep := lostPolls(t, s, 70*time.Minute)
	// Two sweeps at once (a duplicated timer, two consumers): each sends a
	// copy of every lost step; the copies collapse downstream.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		requeued int
	)
	for range 2 {
		wg.Go(func() {
			sw, err := s.app.Service.Sweep(t.Context(), true)
			if err != nil {
				t.Errorf("sweep: %v", err)
			}
			mu.Lock()
			requeued += sw.Requeued
			mu.Unlock()
		})
	}
	wg.Wait()
	// Steps not yet overdue by the poll cap (a long first check) wait for
	// a later sweep, on the drain timer below.
	if requeued == 0 || requeued > 2*len(rep.Jobs) {
		t.Errorf("two sweeps requeued %d steps; want the overdue ones of %d, once or twice", requeued, len(rep.Jobs))
	}
	s.runFor(2*time.Hour, func() bool { return strings.Contains(s.out.String(), "(job nightly-") })
	per := s.jobsPerName()
	if len(per) != len(rep.Jobs) {
		t.Errorf("emulator holds %d distinct backups; want %d", len(per), len(rep.Jobs))
	}
	for name, n := range per {
		if n != 1 {
			t.Errorf("%s backed up %d times; want once", name, n)
		}
	}
	for _, id := range rep.Jobs {
		st, o, err := s.app.Service.State(t.Context(), id)
		if err != nil || o == nil || o.Result != "succeeded" {
			t.Errorf("job %s: state %+v, outcome %+v, %v; want succeeded", id, st, o, err)
		}
	}
	if n := strings.Count(s.out.String(), "(job nightly-"); n != 1 {
		t.Errorf("run summaries: %d; want 1:\n%s", n, s.out.String())
	}
}

// TestEndToEnd_SweepRecordsStuckJobs: the poll messages are lost and the
// jobs' deadline passes before any function runs again. The sweep records
// each job stuck, notifies each once — a second sweep, as a duplicated
// drain timer would run, adds nothing — and the run's summary is sent with
// them.
func TestEndToEnd_SweepRecordsStuckJobs(t *testing.T) {
	s := newStack(t, emulator.Options{CMQMaxUnacked: time.Hour, JobDuration: 5 * time.Hour},
		map[string]string{"BACKUPFLOW_BACKUP_DEADLINE": "1h"})
	rep := lostPolls(t, s, 90*time.Minute)
	drain := `{"Type":"Timer","TriggerName":"drain","Message":"drain"}`
	for range 2 {
		s.invoke(s.create, drain) // the timer fires; a duplicate fires again
		s.clk.Advance(11 * time.Minute)
	}
	s.runFor(time.Hour, func() bool { return strings.Contains(s.out.String(), "(job nightly-") })
	for _, id := range rep.Jobs {
		_, o, err := s.app.Service.State(t.Context(), id)
		if err != nil || o == nil || o.Result != "stuck" {
			t.Errorf("job %s: outcome %+v, %v; want stuck", id, o, err)
			continue
		}
		// Its own notice; the summary lists it as "stuck after …".
		if n := strings.Count(s.out.String(), " stuck (job "+id+")"); n != 1 {
			t.Errorf("job %s notified %d times; want once", id, n)
		}
	}
	if n := strings.Count(s.out.String(), "(job nightly-"); n != 1 {
		t.Errorf("run summaries: %d; want 1:\n%s", n, s.out.String())
	}
	for _, j := range s.emu.Jobs() {
		if j.Op == provider.Backup && j.State == provider.Succeeded {
			t.Errorf("%s: the 5 h cloud job cannot have finished", j.InstanceID)
		}
	}
}

// TestEndToEnd_NightlyRunSweeps: on AWS there is no drain timer; the
// nightly run is the sweep's turn. A run fired after the messages were
// lost sends every lost step again and says so in its report.
func TestEndToEnd_NightlyRunSweeps(t *testing.T) {
	s := newStack(t, emulator.Options{CMQMaxUnacked: time.Hour}, nil)
	lost := lostPolls(t, s, 70*time.Minute)
	s.clk.Advance(2 * time.Hour) // every lost step overdue, no deadline passed
	sched := `{"scheduledTime":"` + s.clk.Now().Format(time.RFC3339) + `"}`
	var rep function.Report
	if err := json.Unmarshal(s.invoke(s.create, sched), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requeued == 0 || rep.Stuck != 0 {
		t.Fatalf("nightly report %+v; want lost steps requeued", rep)
	}
	// The run's own fan-out used up most of this second's SendCmqMsg
	// limit (20/s): a send the queue throttled is left to the next sweep.
	requeued := rep.Requeued
	for requeued < len(lost.Jobs) {
		s.clk.Advance(time.Second)
		sw, err := s.app.Service.Sweep(t.Context(), true)
		if sw.Requeued == 0 {
			t.Fatalf("a later sweep requeued nothing (%v); %d of %d lost steps requeued", err, requeued, len(lost.Jobs))
		}
		requeued += sw.Requeued
	}
	if v, f, d := s.emu.CMQ.Stats("backupflow-poll"); v+f+d != len(lost.Jobs) || requeued != len(lost.Jobs) {
		t.Errorf("poll queue holds %d messages, %d requeued; want each of the %d lost steps once", v+f+d, requeued, len(lost.Jobs))
	}
}
