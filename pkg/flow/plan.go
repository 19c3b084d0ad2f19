package flow

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Plan is what a nightly run at a time would do: its targets and skips
// come from the resolve Nightly uses, its pacing from the fan-out's own
// pacing, so a plan can only differ from the night where the fleet changes
// in between.
type Plan struct {
	Run     string              `json:"run"`
	At      time.Time           `json:"at"`
	Jobs    []PlannedJob        `json:"jobs"`
	Skipped []provider.Instance `json:"skipped"`
	Pacing  []Pacing            `json:"pacing"`
	Window  Window              `json:"window"`
	// Refused is set when the run would start nothing (over MaxTargets).
	Refused string `json:"refused,omitempty"`
}

// PlannedJob is one create the fan-out would send.
type PlannedJob struct {
	Job      string           `json:"job"`
	Instance string           `json:"instance"`
	Product  provider.Product `json:"product"`
	Region   string           `json:"region,omitempty"`
	Method   string           `json:"method,omitempty"` // "" is the product's only way
	// Due is when the create is sent, after the run's start.
	Due time.Duration `json:"dueNs"`
	// Expected is the job's expected duration: the instance's recorded
	// one when FromHistory, else the product's typical duration.
	Expected    time.Duration `json:"expectedNs"`
	FromHistory bool          `json:"fromHistory"`
	// Problem is why the job is known to fail when started (its product
	// is not enabled here); the run still starts it, as Nightly does.
	Problem string `json:"problem,omitempty"`
}

// Pacing is how one product's creates are spread.
type Pacing struct {
	Product provider.Product `json:"product"`
	Jobs    int              `json:"jobs"`
	// PerSecond is the planned create rate: the product's limit times the
	// share the fan-out plans for.
	PerSecond float64       `json:"perSecond"`
	Limit     float64       `json:"limitPerSecond"`
	LastDue   time.Duration `json:"lastDueNs"`
	PollFloor time.Duration `json:"pollFloorNs"`
}

// Window is the predicted finish, after the run's start: when half, 95 %
// and all of the jobs have ended and been noticed. Plan leaves it zero:
// the prediction is a simulated night (internal/simulate.Predict), which
// no deployed function links.
type Window struct {
	P50  time.Duration `json:"p50Ns"`
	P95  time.Duration `json:"p95Ns"`
	Last time.Duration `json:"lastNs"`
	// Basis says what the prediction rests on, in words.
	Basis string `json:"basis"`
}

// Plan resolves the targets of a nightly run at at exactly as Nightly
// does, with each job's expected duration from the ledger's history. It
// creates nothing and writes nothing: it reads the ledger and calls the
// products' discovery (list) APIs only.
func (s *Service) Plan(ctx context.Context, at time.Time, sel Selection) (Plan, error) {
	slot := job.Slot(at)
	p := Plan{Run: "nightly-" + slot, At: at}
	targets, skipped, err := s.resolve(ctx, sel)
	if err != nil {
		return p, err
	}
	p.Skipped = skipped
	s.fillMethods(ctx, targets)
	if len(targets) > s.cfg.MaxTargets {
		p.Refused = fmt.Sprintf("%d targets exceeds the limit of %d (BACKUPFLOW_MAX_TARGETS): the run would start nothing",
			len(targets), s.cfg.MaxTargets)
	}
	delays, floors, rates := fanoutPacing(targets)
	for i, t := range targets {
		pj := PlannedJob{Job: job.NewID("nightly", slot, t.InstanceID), Instance: t.InstanceID, Product: t.Product,
			Region: t.Region, Method: t.Method, Due: delays[i]}
		pj.Expected = provider.LimitsOf(t.Product, provider.Backup).TypicalDuration
		spec := provider.Spec{Op: provider.Backup, Product: t.Product, InstanceID: t.InstanceID}
		if b, ok, err := s.d.Ledger.Get(ctx, keyHistory(spec)); err != nil {
			return p, wrapLedger(err)
		} else if ms, perr := strconv.ParseInt(string(b), 10, 64); ok && perr == nil && ms > 0 {
			pj.Expected, pj.FromHistory = time.Duration(ms)*time.Millisecond, true
		}
		if _, err := s.d.Providers(t.Product); err != nil {
			pj.Problem = err.Error()
		}
		p.Jobs = append(p.Jobs, pj)
	}
	byProduct := map[provider.Product]*Pacing{}
	for _, pj := range p.Jobs {
		pc := byProduct[pj.Product]
		if pc == nil {
			l := provider.LimitsOf(pj.Product, provider.Backup).CreatePerSecond
			pc = &Pacing{Product: pj.Product, Limit: l, PerSecond: rates[pj.Product], PollFloor: floors[pj.Product]}
			byProduct[pj.Product] = pc
		}
		pc.Jobs++
		pc.LastDue = max(pc.LastDue, pj.Due)
	}
	for _, pc := range byProduct {
		p.Pacing = append(p.Pacing, *pc)
	}
	sort.Slice(p.Pacing, func(i, j int) bool { return p.Pacing[i].Product < p.Pacing[j].Product })
	return p, nil
}

// fanoutPacing returns, for each target in order, the delay its create is
// sent with, each product's floor on the poll interval of jobs without
// history, and each product's planned create rate. Nightly sends with
// these; Plan shows them.
func fanoutPacing(targets []Target) ([]time.Duration, map[provider.Product]time.Duration, map[provider.Product]float64) {
	perProduct := map[provider.Product]int{}
	for _, t := range targets {
		perProduct[t.Product]++
	}
	// Every job of a product shares the product's status-call limit; a floor
	// on the poll interval of jobs without history keeps the running jobs'
	// checks within 80 % of it (the rest is left for lookups and others).
	// Every product's creates are spread over the span the slowest product
	// needs at its full limit: the fan-out ends no later, and a product
	// with room in its limit no longer starts all its jobs in the first
	// minutes, whose first-night checks then asked for several times its
	// status limit (10,000 instances: SQL Server's 3,000 creates went out in
	// 150 s of MySQL's 800; night 1 p95 detection share 31.4 % → 24.3 %
	// with coldLadderShare, night 2 calls per job 3.07 → 3.03).
	window := 0.0
	for p, count := range perProduct {
		if l := provider.LimitsOf(p, provider.Backup); l.CreatePerSecond > 0 {
			window = max(window, float64(count)/(l.CreatePerSecond*fanoutShare))
		}
	}
	rates := map[provider.Product]float64{}
	for p, count := range perProduct {
		r := provider.LimitsOf(p, provider.Backup).CreatePerSecond * fanoutShare
		if window > 0 {
			r = min(r, float64(count)/window)
		}
		rates[p] = r
	}
	floors := map[provider.Product]time.Duration{}
	for p, count := range perProduct {
		l := provider.LimitsOf(p, provider.Backup)
		if l.StatusPerSecond <= 0 || l.CreatePerSecond <= 0 {
			floors[p] = 0
			continue
		}
		// Jobs start over the fan-out's span and run about the typical
		// duration, so about n·D/(span+D) of them are running at once.
		n := float64(count)
		span := n / rates[p]
		d := l.TypicalDuration.Seconds()
		concurrent := n * d / (span + d)
		floors[p] = time.Duration(concurrent / (0.8 * l.StatusPerSecond) * float64(time.Second))
	}
	delays := make([]time.Duration, len(targets))
	index := map[provider.Product]int{}
	for i, t := range targets {
		// The i-th create of a product is due at floor(i / (share × rate))
		// seconds: never more than the limit in one second. Retries are not
		// given reserved room here: the drain's pacer spaces due creates,
		// retried or not, at the limit (see fanoutShare).
		rate := rates[t.Product]
		delays[i] = time.Duration(math.Floor(float64(index[t.Product])/rate)) * time.Second
		index[t.Product]++
	}
	return delays, floors, rates
}

// Text is the plan for a terminal: every job and skip, the pacing and the
// window.
func (p Plan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan of %s (at %s): %s, %d skipped\n", p.Run, p.At.UTC().Format(time.RFC3339), jobCount(len(p.Jobs)), len(p.Skipped))
	if p.Refused != "" {
		fmt.Fprintf(&b, "REFUSED: %s\n", p.Refused)
	}
	if len(p.Jobs) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "INSTANCE\tPRODUCT\tMETHOD\tCREATE AT\tEXPECTED\tJOB")
		for _, j := range p.Jobs {
			m := j.Method
			if m == "" {
				m = "-"
			}
			exp := shortDuration(j.Expected) + " (typical)"
			if j.FromHistory {
				exp = shortDuration(j.Expected) + " (last run)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t+%s\t%s\t%s\n", j.Instance, j.Product, m, shortDuration(j.Due), exp, j.Job)
		}
		_ = tw.Flush()
	}
	var fails []PlannedJob
	for _, j := range p.Jobs {
		if j.Problem != "" {
			fails = append(fails, j)
		}
	}
	if len(fails) > 0 {
		b.WriteString("\nWill fail when started:\n")
		for _, j := range fails {
			fmt.Fprintf(&b, "  %s: %s\n", j.Instance, j.Problem)
		}
	}
	if len(p.Skipped) > 0 {
		b.WriteString("\nSkipped:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, s := range p.Skipped {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.InstanceID, s.Product, s.Reason)
		}
		_ = tw.Flush()
	}
	if len(p.Pacing) > 0 {
		b.WriteString("\nPacing:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, pc := range p.Pacing {
			fmt.Fprintf(tw, "  %s\t%s\t%.1f creates/s (limit %g/s)\tlast create at +%s\tpoll floor %s\n",
				pc.Product, jobCount(pc.Jobs), pc.PerSecond, pc.Limit, shortDuration(pc.LastDue), shortDuration(pc.PollFloor))
		}
		_ = tw.Flush()
	}
	w := p.Window
	if len(p.Jobs) > 0 && w.Basis != "" {
		fmt.Fprintf(&b, "\nPredicted window: half the jobs done by +%s, 95%% by +%s, all by +%s\n  (%s)\n",
			shortDuration(w.P50), shortDuration(w.P95), shortDuration(w.Last), w.Basis)
	}
	return b.String()
}

// Short is the plan in a few lines, for chat: the counts, the refusal,
// the first skips and every job known to fail. The window is left to
// `backupflow plan`, which simulates the night.
func (p Plan) Short() string {
	var b strings.Builder
	per := make([]string, 0, len(p.Pacing))
	for _, pc := range p.Pacing {
		per = append(per, fmt.Sprintf("%s %d", pc.Product, pc.Jobs))
	}
	fmt.Fprintf(&b, "Tonight's nightly run: %d backups", len(p.Jobs))
	if len(per) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(per, ", "))
	}
	fmt.Fprintf(&b, ", %d skipped.", len(p.Skipped))
	if p.Refused != "" {
		fmt.Fprintf(&b, "\nREFUSED: %s", p.Refused)
	}
	for i, s := range p.Skipped {
		if i == 5 {
			fmt.Fprintf(&b, "\n… and %d more skipped (backupflow plan lists them).", len(p.Skipped)-i)
			break
		}
		fmt.Fprintf(&b, "\nSkipped %s: %s", s.InstanceID, s.Reason)
	}
	for _, j := range p.Jobs {
		if j.Problem != "" {
			fmt.Fprintf(&b, "\nWill fail %s: %s", j.Instance, j.Problem)
		}
	}
	b.WriteString("\nEach job, the pacing and the predicted window: backupflow plan.")
	return b.String()
}

// shortDuration prints a duration to the second ("1h2m3s", "0s").
func shortDuration(d time.Duration) string {
	return d.Round(time.Second).String()
}
