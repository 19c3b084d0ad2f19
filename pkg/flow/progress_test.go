package flow

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// reporting is a provider whose running jobs report the progress
// progress(elapsed, duration) gives, and which records when each status
// check came.
type reporting struct {
	*fakeProvider
	progress func(elapsed, dur time.Duration) int
	started  *time.Time // the cloud's own start, reported when set
	// startOfJob reports the job's own start, as MySQL's answer does.
	startOfJob bool
	checks     *[]time.Time
}

func (p reporting) Status(ctx context.Context, s provider.Spec, ref provider.Ref) (provider.Status, error) {
	*p.checks = append(*p.checks, p.clk.Now())
	st, err := p.fakeProvider.Status(ctx, s, ref)
	st.Progress = -1
	if err == nil && st.State == provider.Running && p.progress != nil {
		p.mu.Lock()
		j := p.jobs[ref]
		p.mu.Unlock()
		if j != nil {
			st.Progress = p.progress(p.clk.Now().Sub(j.started), p.dur)
			if p.startOfJob {
				st.Started = j.started
			}
		}
		if p.started != nil {
			st.Started = *p.started
		}
	}
	return st, err
}

// linear is the emulator's progress: the whole percent of the duration
// elapsed, rounded down, at most 99 while running.
func linear(elapsed, dur time.Duration) int { return min(int(elapsed*100/dur), 99) }

// TestPollPlacesACheckAtTheEndTheProgressGives: a running job's reported
// progress places its next check just after the end it implies. Past the
// ladder's next rung only with the cloud's start in the answer, and at
// most PollCap ahead until two readings agree; a check so placed that
// finds the job still running goes back to the ladder.
func TestPollPlacesACheckAtTheEndTheProgressGives(t *testing.T) {
	const floor = 4 * time.Minute // the ladder's next rung: the fan-out's poll floor
	for _, tc := range []struct {
		name     string
		elapsed  time.Duration // since our create, which is the cloud's start unless cloud says otherwise
		progress int
		cloud    time.Duration // the cloud's start, this long ago; -1: not in the answer
		ladderAt time.Duration // this check was placed by progress; the ladder's was due then (<0: already past)
		min, max time.Duration // the next check's delay
		placed   bool          // the next check is placed by progress (remembers the ladder's)
	}{
		{name: "50 % at 6 min: at 12 min, past the ladder's rung", elapsed: 6 * time.Minute, progress: 50,
			min: 6 * time.Minute, max: 6*time.Minute + 5*time.Second, placed: true},
		// 25 % (rounded down) at 2.5 min: the end lies in (9.8, 10] min;
		// the check goes to the bracket's far side, where the job has ended
		// if the progress is linear.
		{name: "the bracket's far side", elapsed: 150 * time.Second, progress: 25,
			min: 450 * time.Second, max: 455 * time.Second, placed: true},
		// 10 % at 6 min says 60 min: a reading is trusted PollCap ahead, or
		// as long as the job has run, whichever is longer.
		{name: "at most PollCap ahead", elapsed: 6 * time.Minute, progress: 10,
			min: 10 * time.Minute, max: 10 * time.Minute},
		{name: "at most the time run so far ahead", elapsed: 15 * time.Minute, progress: 10,
			min: 15 * time.Minute, max: 15 * time.Minute},
		// Without the cloud's start our create is what the progress would
		// count from, which may be well before the cloud's; it only brings
		// a check forward.
		{name: "no start in the answer: before the rung", elapsed: 3 * time.Minute, progress: 60, cloud: -1,
			min: 2 * time.Minute, max: 2*time.Minute + 5*time.Second, placed: true},
		{name: "no start in the answer: not past the rung", elapsed: 6 * time.Minute, progress: 50, cloud: -1, min: floor, max: floor},
		{name: "no progress: the ladder's", elapsed: 6 * time.Minute, progress: -1, min: floor, max: floor},
		{name: "0 %: the ladder's", elapsed: 6 * time.Minute, progress: 0, min: floor, max: floor},
		// The cloud's start is what its progress counts from: started 6 min
		// after our create, at 50 % 3 min later, it ends 3 min from now.
		{name: "the cloud's start", elapsed: 9 * time.Minute, progress: 50, cloud: 3 * time.Minute,
			min: 3 * time.Minute, max: 3*time.Minute + 5*time.Second, placed: true},
		// A check the progress placed found the job still running (the
		// progress ran ahead of time): the next is the ladder's, whatever
		// the progress says now, so a job stuck at 99 % is not checked
		// every few seconds.
		{name: "ran ahead: the ladder's planned check", elapsed: 12 * time.Minute, progress: 99, ladderAt: 2 * time.Minute,
			min: 2 * time.Minute, max: 2 * time.Minute},
		{name: "ran ahead, the rung passed: the ladder's from now", elapsed: 12 * time.Minute, progress: 99, ladderAt: -time.Minute,
			min: floor, max: floor},
		// Near the end the check still keeps PollMin from this one.
		{name: "99 %: not sooner than PollMin", elapsed: 12 * time.Minute, progress: 99,
			min: 20 * time.Second, max: 25 * time.Second, placed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.prov.dur = 2 * time.Hour
			h.poll.max = 0 // the delay itself, not a chain of the queue's longest
			var checks []time.Time
			now := h.clk.Now()
			p := reporting{fakeProvider: h.prov, progress: func(time.Duration, time.Duration) int { return tc.progress }, checks: &checks}
			start := now.Add(-tc.elapsed)
			if tc.cloud > 0 {
				start = now.Add(-tc.cloud)
			}
			if tc.cloud >= 0 {
				p.started = &start
			}
			h.svc.d.Providers = func(provider.Product) (provider.Provider, error) { return p, nil }
			spec := provider.Spec{Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Op: provider.Backup, Name: "bf-t"}
			ref, err := h.prov.Start(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			m := job.Message{JobID: "t", Step: job.StepPoll, Spec: spec, Ref: ref, Seq: 1,
				Created: now.Add(-tc.elapsed), Started: now.Add(-tc.elapsed), Deadline: now.Add(time.Hour),
				PollFloor: floor, Origin: job.Origin{Source: "timer"}}
			if tc.ladderAt != 0 {
				m.LadderAt = now.Add(tc.ladderAt)
			}
			h.handleToOnePoll(m)
			if d := h.poll.delay[0]; d < tc.min || d > tc.max {
				t.Errorf("next check in %s; want %s–%s", d, tc.min, tc.max)
			}
			var next job.Message
			if err := json.Unmarshal(h.poll.msgs[0].body, &next); err != nil {
				t.Fatal(err)
			}
			if tc.placed && !next.LadderAt.Equal(now.Add(floor)) {
				t.Errorf("next step remembers the ladder's check at %s; want %s", next.LadderAt, now.Add(floor))
			}
			if !tc.placed && !next.LadderAt.IsZero() {
				t.Errorf("next step remembers a check at %s; want none (it is the ladder's)", next.LadderAt)
			}
		})
	}
}

// TestProgressPlacesWholeJobsChecks runs whole jobs. Linear progress: the
// end is noticed within seconds, in no more checks than without progress.
// Progress ahead of time (or stuck at 99 %) costs at most one check more a
// rung, no latency; a job that ends before its progress says (30 % at its
// end) is noticed at most PollCap or the time it had run late.
func TestProgressPlacesWholeJobsChecks(t *testing.T) {
	const dur = 12 * time.Minute
	run := func(t *testing.T, progress func(elapsed, dur time.Duration) int) (latency time.Duration, checks int) {
		t.Helper()
		h := newHarness(t, Config{FirstPoll: 90 * time.Second})
		h.prov.dur = dur
		var at []time.Time
		p := reporting{fakeProvider: h.prov, progress: progress, checks: &at, startOfJob: true}
		h.svc.d.Providers = func(provider.Product) (provider.Provider, error) { return p, nil }
		id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"a"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
		if err != nil {
			t.Fatal(err)
		}
		h.run()
		o := h.notes.outcomes()[id]
		if len(o) != 1 || o[0].Result != Succeeded {
			t.Fatalf("outcomes %+v; want one success", o)
		}
		return o[0].Finished.Sub(o[0].Created) - dur, len(at)
	}
	today, todayChecks := run(t, nil)
	for _, tc := range []struct {
		name       string
		progress   func(elapsed, dur time.Duration) int
		maxLatency time.Duration
		maxChecks  int
	}{
		// First check at 1.5 min (12 %: the end is at most 12.5 min, 11 min
		// ahead, past PollCap), then at 11.5 min (95 %), then at the end.
		{"linear", linear, 10 * time.Second, 3},
		// Fast at first, then slow: says 90 % at half-time.
		{"ahead of time", func(e, d time.Duration) int { return min(int(e*180/d), 90+int((e-d/2)*18/d)) }, today, 2 * todayChecks},
		{"stuck at 99 %", func(e, d time.Duration) int { return min(int(e*400/d), 99) }, today, 2 * todayChecks},
		// 3 % at 1.5 min, 28 % at 11.5 min: checked again 11.5 min later.
		{"ends early", func(e, d time.Duration) int { return int(e * 30 / d) }, 11 * time.Minute, todayChecks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			latency, checks := run(t, tc.progress)
			if latency > tc.maxLatency {
				t.Errorf("noticed %s after the end; want ≤ %s (without progress: %s)", latency, tc.maxLatency, today)
			}
			if checks > tc.maxChecks {
				t.Errorf("%d checks; want ≤ %d (without progress: %d)", checks, tc.maxChecks, todayChecks)
			}
		})
	}
}

// TestFirstCheckReadsProgressEarly: without history a MySQL job (whose
// answer carries progress) is checked first at 0.15 of the typical
// duration, to read the progress that places the next check; a product
// without progress at a quarter; a configured first check wins.
func TestFirstCheckReadsProgressEarly(t *testing.T) {
	for _, tc := range []struct {
		product provider.Product
		id      string
		first   time.Duration // Config.FirstPoll
		want    time.Duration
	}{
		{provider.MySQL, "cdb-c1nl9rpv", 0, 90 * time.Second},
		{provider.SQLServer, "mssql-i1z41iwd", 0, 150 * time.Second},
		{provider.MySQL, "cdb-c1nl9rpv", time.Second, 20 * time.Second}, // PollMin still applies
	} {
		h := newHarness(t, Config{FirstPoll: tc.first})
		spec := provider.Spec{Product: tc.product, InstanceID: tc.id, Op: provider.Backup}
		if got, known := h.svc.firstPoll(context.Background(), spec, false); got != tc.want || known {
			t.Errorf("%s (FirstPoll %s): first check at %s (history %v); want %s without history", tc.product, tc.first, got, known, tc.want)
		}
	}
}
