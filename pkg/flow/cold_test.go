package flow

import (
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// TestFanoutSpreadsEveryProductOverTheSlowestSpan: a product with room in
// its create limit is spread over the span the slowest product needs, so
// its jobs do not all start in the first seconds and then ask for more
// status checks at once than its status limit allows (10,000 instances,
// night 1: p95 detection share 31.4 % → 24.3 % with the cold ladder).
func TestFanoutSpreadsEveryProductOverTheSlowestSpan(t *testing.T) {
	var targets []Target
	for i := range 100 {
		targets = append(targets, Target{InstanceID: "cdb-" + string(rune('a'+i%26)), Product: provider.MySQL})
		targets = append(targets, Target{InstanceID: "mssql-" + string(rune('a'+i%26)), Product: provider.SQLServer})
	}
	delays, _, _ := fanoutPacing(targets)
	last := map[provider.Product]time.Duration{}
	perSecond := map[provider.Product]map[time.Duration]int{}
	for i, tg := range targets {
		last[tg.Product] = max(last[tg.Product], delays[i])
		if perSecond[tg.Product] == nil {
			perSecond[tg.Product] = map[time.Duration]int{}
		}
		perSecond[tg.Product][delays[i]]++
	}
	// MySQL: 100 at 5/s, last at 19 s. SQL Server (20/s) used to be done
	// at 4 s; spread, it ends with MySQL.
	if last[provider.MySQL] != 19*time.Second {
		t.Fatalf("MySQL's last create at %s, want 19s", last[provider.MySQL])
	}
	if got := last[provider.SQLServer]; got < 18*time.Second || got > 19*time.Second {
		t.Fatalf("SQL Server's last create at %s, want spread to MySQL's 19s (was 4s)", got)
	}
	for p, secs := range perSecond {
		limit := provider.LimitsOf(p, provider.Backup).CreatePerSecond
		for s, n := range secs {
			if float64(n) > limit {
				t.Fatalf("%s: %d creates due at %s, over the limit %g/s", p, n, s, limit)
			}
		}
	}
}

// TestColdJobsClimbTheLadderAtTheNightOneShare: a job without duration
// history checks back after coldLadderShare of its elapsed time, not the
// PollShare meant for jobs whose end is known to within a night's swing.
func TestColdJobsClimbTheLadderAtTheNightOneShare(t *testing.T) {
	h := newHarness(t, Config{})
	now := h.clk.Now()
	st := provider.Status{State: provider.Running, Progress: -1}
	for _, tc := range []struct {
		name string
		m    job.Message
		want time.Duration
	}{
		{"no history: a quarter of 8 min", job.Message{Cold: true, Started: now.Add(-8 * time.Minute)}, 2 * time.Minute},
		{"history: PollShare of 8 min", job.Message{Started: now.Add(-8 * time.Minute)}, time.Duration(float64(8*time.Minute) * 0.08)},
		{"no history, the floor is longer", job.Message{Cold: true, PollFloor: 3 * time.Minute, Started: now.Add(-8 * time.Minute)}, 3 * time.Minute},
		{"no history, capped", job.Message{Cold: true, Started: now.Add(-60 * time.Minute)}, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := h.svc.nextCheck(st, tc.m, now, now.Sub(tc.m.Started))
			if got != tc.want {
				t.Fatalf("next check in %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFanoutJobsWithoutHistoryCheckFirstAtHalfTheTypicalDuration: on a
// fleet's first night a job of a product without progress is checked first
// at half its typical duration, a lone job (no poll floor: its checks press
// on no limit) at a quarter, and a MySQL job, whose first answer carries
// progress, at 0.15 either way. At 10,000 instances, night 1, a quarter
// cost 6.01 status checks a job (issue 20 wants at most 5); the geometric
// ladder spends about log(2)/log(1.25) ≈ 3 more checks on every job to
// start at a quarter instead of half, for the few percent of jobs shorter
// than 0.4 of the typical duration (docs/benchmarks.md, fifth pass).
func TestFanoutJobsWithoutHistoryCheckFirstAtHalfTheTypicalDuration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		product provider.Product
		id      string
		floor   time.Duration
		want    time.Duration
	}{
		{"fan-out, no progress: half", provider.SQLServer, "mssql-i1z41iwd", time.Minute, 5 * time.Minute},
		{"fan-out, Huawei: half", provider.HuaweiRDS, "0123456789abcdef0123456789abcdefin01", time.Minute, 5 * time.Minute},
		{"lone job, no progress: a quarter", provider.SQLServer, "mssql-i1z41iwd", 0, 150 * time.Second},
		{"fan-out, MySQL reads progress early", provider.MySQL, "cdb-c1nl9rpv", time.Minute, 90 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.poll.max = 0
			now := h.clk.Now()
			spec := provider.Spec{Product: tc.product, InstanceID: tc.id, Op: provider.Backup, Name: job.Name("t")}
			m := job.Message{JobID: "t", Step: job.StepCreate, Spec: spec, Seq: 0,
				Created: now, PollFloor: tc.floor, Origin: job.Origin{Source: "timer"}}
			h.handleToOnePoll(m)
			if d := h.poll.delay[0]; d != tc.want {
				t.Errorf("first check in %s; want %s", d, tc.want)
			}
		})
	}
}
