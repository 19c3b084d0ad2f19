package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	ok := func(id string) Result {
		return Result{JobID: id, Target: "cdb-" + id, Outcome: Succeeded, Duration: time.Minute}
	}
	tests := []struct {
		name    string
		results []Result
		want    Message
	}{
		{
			name: "no jobs",
			want: Message{Level: Info, Title: "nightly 2026-11-22: no jobs ran", JobID: "nightly 2026-11-22"},
		},
		{
			name:    "all succeeded: counted, not listed",
			results: []Result{ok("1"), ok("2")},
			want: Message{Level: Success, JobID: "nightly 2026-11-22",
				Title: "nightly 2026-11-22: all 2 jobs succeeded",
				Text:  "2 jobs: 2 succeeded"},
		},
		{
			name:    "one job",
			results: []Result{ok("1")},
			want: Message{Level: Success, JobID: "nightly 2026-11-22",
				Title: "nightly 2026-11-22: 1 job succeeded",
				Text:  "1 job: 1 succeeded"},
		},
		{
			name:    "one job of one did not succeed",
			results: []Result{{JobID: "2", Target: "cdb-2", Outcome: Failed}},
			want: Message{Level: Failure, JobID: "nightly 2026-11-22",
				Title: "nightly 2026-11-22: 1 of 1 job did not succeed",
				Text:  "1 job: 1 failed\n- cdb-2 failed (job 2)"},
		},
		{
			name: "failures listed, successes only counted",
			results: []Result{
				ok("1"),
				{JobID: "2", Target: "cdb-2", Outcome: Failed, Detail: "OperationDenied: busy\nretry later", Duration: 3*time.Minute + 400*time.Millisecond},
				ok("3"),
				{JobID: "4", Target: "mssql-4", Outcome: Stuck},
				{JobID: "5", Outcome: DeadLettered, Detail: "5 attempts"},
				{JobID: "6", Target: "mongo-6", Outcome: "exploded"},
			},
			want: Message{Level: Failure, JobID: "nightly 2026-11-22",
				Title: "nightly 2026-11-22: 4 of 6 jobs did not succeed",
				Text: "6 jobs: 2 succeeded, 1 failed, 1 dead-lettered, 1 stuck, 1 exploded\n" +
					"- cdb-2 failed after 3m0s (job 2): OperationDenied: busy retry later\n" +
					"- mssql-4 stuck (job 4)\n" +
					"- (no target) dead-lettered (job 5): 5 attempts\n" +
					"- mongo-6 exploded (job 6)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summary("nightly 2026-11-22", tt.results)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Summary =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestSummary_ManyFailures(t *testing.T) {
	var results []Result
	for i := range 500 {
		results = append(results, Result{JobID: fmt.Sprint(i), Target: "cdb", Outcome: Failed, Detail: strings.Repeat("x", 5000)})
	}
	for range 1000 {
		results = append(results, Result{Outcome: Succeeded})
	}
	m := Summary("run", results)
	lines := strings.Split(m.Text, "\n")
	if len(lines) != 1+summaryListed+1 || lines[len(lines)-1] != "…and 490 more" {
		t.Errorf("got %d lines ending %q; want counts, 10 failures and \"…and 480 more\"", len(lines), lines[len(lines)-1])
	}
	if lines[0] != "1500 jobs: 1000 succeeded, 500 failed" {
		t.Errorf("counts line = %q", lines[0])
	}
	for _, l := range lines[1 : len(lines)-1] {
		if len(l) > summaryLineMax {
			t.Errorf("failure line is %d bytes; details should be shortened", len(l))
		}
	}
	// The whole summary must still fit the smallest platform limit untouched.
	if len(m.Text) > slackTextMax {
		t.Errorf("summary text is %d bytes; more than a Slack section takes", len(m.Text))
	}
}
