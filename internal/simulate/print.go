package simulate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Print writes the report as side-by-side tables, one per night, with the
// baselines' figures and the ratio backupflow/baseline (over the oracle:
// ours ÷ the floor the rate limits allow).
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "simulated fleet: %d instances (", r.Instances)
	var parts []string
	for _, p := range provider.Products {
		if n := r.PerProduct[p]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p, n))
		}
	}
	fmt.Fprintf(w, "%s); faults %.0f%%, duplicate deliveries %.0f%%, seed %d\n", strings.Join(parts, ", "),
		r.Faults*100, r.Duplicates*100, r.Seed)
	fmt.Fprintf(w, "cost model: %s\n", r.CostModel)
	var nights []int
	for _, n := range r.Nights {
		if !slices.Contains(nights, n.Night) {
			nights = append(nights, n.Night)
		}
	}
	for _, night := range nights {
		var cols []Night
		for _, n := range r.Nights {
			if n.Night == night {
				cols = append(cols, n)
			}
		}
		label := "first night: no duration history, first check at half the typical duration (MySQL, whose answer carries progress: 0.15)"
		if night > 1 {
			label = "durations measured on the previous night drive the first check"
		}
		fmt.Fprintf(w, "\nnight %d (%s)\n", night, label)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := "metric\t"
		for i, c := range cols {
			hdr += c.Strategy + "\t"
			if i > 0 && cols[0].Strategy == Flow {
				hdr += "ratio\t"
			}
		}
		fmt.Fprintln(tw, hdr)
		row := func(name string, f func(Night) float64, format func(float64) string) {
			line := name + "\t"
			for i, c := range cols {
				line += format(f(c)) + "\t"
				if i > 0 && cols[0].Strategy == Flow {
					line += ratio(f(cols[0]), f(c)) + "\t"
				}
			}
			fmt.Fprintln(tw, line)
		}
		num := func(v float64) string { return fmt.Sprintf("%.0f", v) }
		dec := func(v float64) string { return fmt.Sprintf("%.2f", v) }
		pct := func(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }
		dur := func(v float64) string { return time.Duration(v).Round(time.Second).String() }
		gbs := func(v float64) string { return fmt.Sprintf("%.4f", v) }
		row("jobs", func(n Night) float64 { return float64(n.Jobs) }, num)
		row("succeeded", func(n Night) float64 { return float64(n.Succeeded) }, num)
		row("failed (all causes)", func(n Night) float64 { return float64(n.Failed) }, num)
		row("failed by throttling", func(n Night) float64 { return float64(n.FailedByThrottling) }, num)
		row("failed by transient faults", func(n Night) float64 { return float64(n.FailedByFaults) }, num)
		row("lost (no outcome)", func(n Night) float64 { return float64(n.Lost) }, num)
		row("duplicate backups", func(n Night) float64 { return float64(n.Duplicates) }, num)
		row("fan-out makespan", func(n Night) float64 { return float64(n.Makespan) }, dur)
		row("rate-limit lower bound", func(n Night) float64 { return float64(n.LowerBound) }, dur)
		row("makespan / lower bound", func(n Night) float64 { return float64(n.Makespan) / float64(max(n.LowerBound, 1)) }, dec)
		row("fault-adjusted bound", func(n Night) float64 { return float64(n.FaultBound) }, dur)
		row("makespan / fault-adj. bound", func(n Night) float64 { return float64(n.Makespan) / float64(max(n.FaultBound, 1)) }, dec)
		row("status calls/job mean", func(n Night) float64 { return n.StatusMean }, dec)
		row("status calls/job p95", func(n Night) float64 { return n.StatusP95 }, num)
		row("all API calls/job mean", func(n Night) float64 { return n.CallsMean }, dec)
		row("detection latency mean", func(n Night) float64 { return float64(n.LatencyMean) }, dur)
		row("detection latency p95", func(n Night) float64 { return float64(n.LatencyP95) }, dur)
		row("latency/job duration mean", func(n Night) float64 { return n.LatencyShareMean }, pct)
		row("latency/job duration p95", func(n Night) float64 { return n.LatencyShareP95 }, pct)
		row("throttled calls", func(n Night) float64 { return float64(n.Throttled) }, num)
		row("  of which status reads", func(n Night) float64 { return float64(n.ThrottledStatus) }, num)
		row("  of which injected", func(n Night) float64 { return float64(n.InjectedThrottles) }, num)
		row("drain pacer waits", func(n Night) float64 { return float64(n.PacerWait) }, dur)
		row("sweep re-sends (overdue)", func(n Night) float64 { return float64(n.SweepRequeued) }, num)
		row("invocations/job", func(n Night) float64 { return n.InvocationsPerJob }, dec)
		row("GB-s/job (model)", func(n Night) float64 { return n.GBsPerJob }, gbs)
		row("  calls + waits apart (first model)", func(n Night) float64 { return n.GBsPerJobCallsPlusWaits }, gbs)
		row("slots reached late at the call time, serial", func(n Night) float64 { return float64(n.LateSlots) }, num)
		row("  latest by", func(n Night) float64 { return float64(n.LateMax) }, dur)
		row(fmt.Sprintf("  with %d drain lanes (deployed)", DrainLanes), func(n Night) float64 { return float64(n.LateSlotsLanes) }, num)
		row("  latest by", func(n Night) float64 { return float64(n.LateMaxLanes) }, dur)
		row("simulator wall time", func(n Night) float64 { return float64(n.Wall.Round(time.Millisecond)) },
			func(v float64) string { return time.Duration(v).String() })
		row("simulator CPU time", func(n Night) float64 { return float64(n.CPU.Round(time.Millisecond)) },
			func(v float64) string { return time.Duration(v).String() })
		_ = tw.Flush()
		for _, c := range cols {
			if len(c.FailReasons) == 0 {
				continue
			}
			keys := make([]string, 0, len(c.FailReasons))
			for k := range c.FailReasons {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var s []string
			for _, k := range keys {
				s = append(s, fmt.Sprintf("%s×%d", k, c.FailReasons[k]))
			}
			fmt.Fprintf(w, "  %s failures: %s\n", c.Strategy, strings.Join(s, ", "))
		}
	}
	r.printTimers(w)
	fmt.Fprintf(w, "\nsimulator wall time, all strategies and nights: %s (CPU %s)\n", r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond))
}

// printTimers writes the timers' day around the last night: ours (the SCF
// drain timers), what they cost before the sweep gate's memory, and
// rescan-10m's scans, with the ratios of the empty firings' GB-s.
func (r Report) printTimers(w io.Writer) {
	last := 0
	for _, n := range r.Nights {
		last = max(last, n.Night)
	}
	ours, _ := r.Find(Flow, last)
	if len(ours.Timers) == 0 {
		return
	}
	fmt.Fprintf(w, "\ntimer firings per day around night %d (empty: found no due message; their calls measured through the deployed handlers over a simulated idle day)\n", last)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "timer\tcron\tfirings/day\twith work\tempty\tcalls/empty\tGB-s/empty\tempty GB-s/day\tboth drains ÷ row\t")
	var sum TimerDay
	line := func(name, cron string, t TimerDay, calls, perEmpty, day float64, ratio string) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.2f\t%s\t%.2f\t%s\t\n", name, cron, t.Firings, t.WithWork, t.Empty, calls,
			func() string {
				if perEmpty < 0 {
					return "-"
				}
				return fmt.Sprintf("%.5f", perEmpty)
			}(), day, ratio)
	}
	var before float64
	mb := float64(r.MemoryMB) / 1024
	for _, t := range ours.Timers {
		line(t.Timer+" ("+t.Function+")", t.Cron, t, t.CallsPerEmpty, t.BilledPerEmpty.Seconds()*mb, t.GBsPerDay, "")
		sum.Firings += t.Firings
		sum.WithWork += t.WithWork
		sum.Empty += t.Empty
		sum.GBsPerDay += t.GBsPerDay
		sum.CallsPerEmpty += t.CallsPerEmpty * float64(t.Empty)
		b, bc := t.GBsPerDayBefore, t.CallsPerEmptyBefore
		if b == 0 {
			b, bc = t.GBsPerDay, t.CallsPerEmpty
		}
		before += b
		sum.CallsPerEmptyBefore += bc * float64(t.Empty)
	}
	avg := func(x float64) float64 { return x / float64(max(sum.Empty, 1)) }
	line("both drains", "", sum, avg(sum.CallsPerEmpty), -1, sum.GBsPerDay, "")
	line("  before the sweep gate's memory", "", sum, avg(sum.CallsPerEmptyBefore), -1, before, ratio(sum.GBsPerDay, before))
	if rs, ok := r.Find(Rescan, last); ok && len(rs.Timers) > 0 {
		t := rs.Timers[0]
		line(Rescan+" scans", "every 10 min", t, t.CallsPerEmpty, t.BilledPerEmpty.Seconds()*mb, t.GBsPerDay, ratio(sum.GBsPerDay, t.GBsPerDay))
	}
	_ = tw.Flush()
}

// ratio is ours/theirs, "-" when undefined.
func ratio(ours, theirs float64) string {
	if theirs == 0 {
		if ours == 0 {
			return "="
		}
		return "-"
	}
	return fmt.Sprintf("%.2f×", ours/theirs)
}
