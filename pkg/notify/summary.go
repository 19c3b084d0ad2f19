package notify

import (
	"fmt"
	"strings"
	"time"
)

// Outcomes a Result can report.
const (
	Succeeded    = "succeeded"
	Failed       = "failed"
	DeadLettered = "dead-lettered"
	Stuck        = "stuck"
)

// Result is how one job of a run ended.
type Result struct {
	JobID    string
	Target   string // what the job worked on: an instance id, a bucket/key
	Outcome  string // Succeeded, Failed, DeadLettered or Stuck
	Detail   string // the error, for anything but Succeeded
	Duration time.Duration
}

// Summary limits: a nightly run over a large fleet must still produce one
// message that fits every platform untruncated (Slack's 3000-character
// section is the smallest): a 200-byte counts line plus ten 270-byte lines.
const (
	summaryListed    = 10
	summaryCountsMax = 200
	summaryLineMax   = 270
)

// Summary builds the one message a run sends: counts first, then every job
// that did not succeed (the first 10, then "and N more"). Successes are only
// counted: failures loud, successes quiet. The level is Failure if any job
// did not succeed, Success if all did, and Info for a run with no jobs. An
// outcome outside the four known ones counts as not succeeded, under its
// own name, so a new outcome cannot hide.
func Summary(run string, results []Result) Message {
	counts := map[string]int{}
	var order []string // outcomes in first-seen order, after the known ones
	var bad []Result
	for _, r := range results {
		o := strings.TrimSpace(r.Outcome)
		if o == "" {
			o = "unknown"
		}
		if counts[o] == 0 && !isKnownOutcome(o) {
			order = append(order, o)
		}
		counts[o]++
		if o != Succeeded {
			r.Outcome = o
			bad = append(bad, r)
		}
	}
	m := Message{JobID: run}
	switch {
	case len(results) == 0:
		m.Level = Info
		m.Title = run + ": no jobs ran"
		return m
	case len(bad) == 0:
		m.Level = Success
		m.Title = fmt.Sprintf("%s: all %s succeeded", run, jobs(len(results)))
		if len(results) == 1 {
			m.Title = run + ": 1 job succeeded"
		}
	default:
		m.Level = Failure
		m.Title = fmt.Sprintf("%s: %d of %s did not succeed", run, len(bad), jobs(len(results)))
	}

	var parts []string
	for _, o := range append([]string{Succeeded, Failed, DeadLettered, Stuck}, order...) {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	lines := []string{oneLine(fmt.Sprintf("%s: %s", jobs(len(results)), strings.Join(parts, ", ")), summaryCountsMax)}
	for i, r := range bad {
		if i == summaryListed {
			lines = append(lines, fmt.Sprintf("…and %d more", len(bad)-i))
			break
		}
		lines = append(lines, resultLine(r))
	}
	m.Text = strings.Join(lines, "\n")
	return m
}

func isKnownOutcome(o string) bool {
	switch o {
	case Succeeded, Failed, DeadLettered, Stuck:
		return true
	}
	return false
}

// resultLine is "- cdb-1 failed after 3m0s (job 42): detail".
func resultLine(r Result) string {
	var b strings.Builder
	b.WriteString("- ")
	if r.Target != "" {
		b.WriteString(r.Target)
	} else {
		b.WriteString("(no target)")
	}
	b.WriteString(" " + r.Outcome)
	if r.Duration > 0 {
		b.WriteString(" after " + r.Duration.Round(time.Second).String())
	}
	if r.JobID != "" {
		b.WriteString(" (job " + r.JobID + ")")
	}
	if d := oneLine(r.Detail, summaryLineMax); d != "" {
		b.WriteString(": " + d)
	}
	return oneLine(b.String(), summaryLineMax)
}

// jobs counts jobs in words: "1 job", "2 jobs".
func jobs(n int) string {
	if n == 1 {
		return "1 job"
	}
	return fmt.Sprintf("%d jobs", n)
}
