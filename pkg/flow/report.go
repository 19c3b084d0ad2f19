package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"sort"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// RunView is one nightly run as the ledger holds it: every job of its
// manifest with its outcome, or its last known state while it runs.
type RunView struct {
	Run     string              `json:"run"`
	Jobs    []RunJob            `json:"jobs"`
	Skipped []provider.Instance `json:"skipped,omitempty"`
}

// RunJob is one job of a run. Start is the job's cause (the run's
// fan-out time); Started is when its cloud job began, after the fan-out's
// spread and the pacer's slot (zero if unknown); End is its outcome's time,
// zero while it runs.
type RunJob struct {
	Job      string           `json:"job"`
	Instance string           `json:"instance"`
	Product  provider.Product `json:"product"`
	State    string           `json:"state"` // a Result, or the last known state
	Start    time.Time        `json:"start"`
	Started  time.Time        `json:"started,omitzero"`
	End      time.Time        `json:"end,omitzero"`
	Duration time.Duration    `json:"durationNs"`
	Attempts int              `json:"attempts"`
	Reason   string           `json:"reason,omitempty"` // the cloud's code and message
}

// ErrUnknownRun is what RunView returns when the ledger holds no such run
// (or no run at all).
var ErrUnknownRun = errors.New("not in the ledger")

// Runs lists the nightly runs the ledger holds, oldest first.
func (s *Service) Runs(ctx context.Context) ([]string, error) {
	keys, err := s.d.Ledger.List(ctx, "runs/")
	if err != nil {
		return nil, wrapLedger(err)
	}
	var runs []string
	for _, k := range keys {
		if r, ok := strings.CutSuffix(strings.TrimPrefix(k, "runs/"), "/manifest"); ok && !strings.Contains(r, "/") {
			runs = append(runs, r)
		}
	}
	sort.Strings(runs) // run names carry the slot: name order is time order
	return runs, nil
}

// RunReport reads one run from the ledger; run "" is the latest.
func (s *Service) RunView(ctx context.Context, run string) (RunView, error) {
	if run == "" {
		runs, err := s.Runs(ctx)
		if err != nil {
			return RunView{}, err
		}
		if len(runs) == 0 {
			return RunView{}, fmt.Errorf("no nightly run: %w", ErrUnknownRun)
		}
		run = runs[len(runs)-1]
	}
	v := RunView{Run: run}
	mb, ok, err := s.d.Ledger.Get(ctx, keyRun(run)+"manifest")
	if err != nil {
		return v, wrapLedger(err)
	}
	if !ok {
		return v, fmt.Errorf("run %s: %w", run, ErrUnknownRun)
	}
	var manifest struct {
		Jobs    []string            `json:"jobs"`
		Skipped []provider.Instance `json:"skipped"`
	}
	if err := json.Unmarshal(mb, &manifest); err != nil {
		return v, fmt.Errorf("run %s: manifest: %w", run, err)
	}
	v.Skipped = manifest.Skipped
	for _, id := range manifest.Jobs {
		j := RunJob{Job: id, State: "queued"}
		st, out, err := s.State(ctx, id)
		switch {
		case out != nil:
			j.Instance, j.Product, j.State = out.Instance, out.Product, string(out.Result)
			j.Start, j.Started, j.End, j.Duration, j.Attempts = out.Created, out.Started, out.Finished, out.Duration(), out.Attempts
			j.Reason = strings.TrimSpace(strings.TrimSpace(out.Code+" "+out.Message) + " " + out.Detail)
		case err == nil:
			j.Instance, j.Product, j.State, j.Start, j.Attempts = st.Spec.InstanceID, st.Spec.Product, st.State, st.Created, st.Attempt
			j.Started = st.Started
		}
		v.Jobs = append(v.Jobs, j)
	}
	return v, nil
}

// Text is the run as a table.
func (v RunView) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s: %s, %d skipped\n\n", v.Run, jobCount(len(v.Jobs)), len(v.Skipped))
	fmt.Fprintf(&b, "%-38s %-11s %-14s %-20s %-20s %9s %3s  %s\n", "INSTANCE", "PRODUCT", "STATE", "START", "END", "DURATION", "TRY", "REASON")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, j := range v.Jobs {
		fmt.Fprintf(&b, "%-38s %-11s %-14s %-20s %-20s %9s %3d  %s\n", j.Instance, j.Product, j.State, ts(j.Start), ts(j.End),
			shortDuration(j.Duration), j.Attempts, j.Reason)
	}
	for _, s := range v.Skipped {
		fmt.Fprintf(&b, "skipped %s (%s): %s\n", s.InstanceID, s.Product, s.Reason)
	}
	return b.String()
}

// HTML is the run as one self-contained page: a timeline with one bar
// per job, grouped by product and coloured by outcome, drawn as inline SVG
// with no script and no external resource.
func (v RunView) HTML() ([]byte, error) {
	jobs := append([]RunJob(nil), v.Jobs...)
	sort.SliceStable(jobs, func(i, k int) bool { return jobs[i].Product < jobs[k].Product })
	var t0, t1 time.Time
	for _, j := range jobs {
		end := j.End
		if end.IsZero() {
			end = j.Start
		}
		if !j.Start.IsZero() && (t0.IsZero() || j.Start.Before(t0)) {
			t0 = j.Start
		}
		if end.After(t1) {
			t1 = end
		}
	}
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	const left, width, rowH, head = 330.0, 600.0, 22.0, 30.0
	var bars []reportBar
	var groups []reportGroup
	y := head
	last := provider.Product("-")
	for _, j := range jobs {
		if j.Product != last {
			groups = append(groups, reportGroup{string(j.Product), y + 14})
			y += rowH
			last = j.Product
		}
		x, w, waitX, waitW := left, 2.0, 0.0, 0.0
		if !j.Start.IsZero() {
			from := j.Start
			if j.Started.After(from) && (j.End.IsZero() || !j.Started.After(j.End)) {
				from = j.Started
				waitX, waitW = left+j.Start.Sub(t0).Seconds()/span*width, j.Started.Sub(j.Start).Seconds()/span*width
			}
			x = left + from.Sub(t0).Seconds()/span*width
			if !j.End.IsZero() {
				w = max(j.End.Sub(from).Seconds()/span*width, 2)
			}
		}
		bars = append(bars, reportBar{Job: j.Job, Label: j.Instance, State: j.State, Colour: colourOf(j.State),
			Title: fmt.Sprintf("%s %s: %s after %s, %d attempts %s", j.Instance, j.Job, j.State, shortDuration(j.Duration), j.Attempts, j.Reason),
			X:     x, Y: y + 4, W: w, TextY: y + 16, WaitX: waitX, WaitW: waitW})
		y += rowH
	}
	return reportHTML(v, bars, groups, y+10, t0, t1), nil
}

// reportHTML writes the page by hand, escaping every value from the ledger.
// html/template calls methods by reflection, which keeps every exported
// method of every type in the binary: in the Lambda chatops function (which
// serves this page) that was 5.7 MB more than the other functions.
func reportHTML(v RunView, bars []reportBar, groups []reportGroup, h float64, t0, t1 time.Time) []byte {
	e := html.EscapeString
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>backupflow run %s</title>
<style>body{font-family:sans-serif;margin:16px}text{font-size:12px}.g{font-weight:bold}</style></head>
<body><h1>Run %s</h1>
<p>%s, %d skipped; %s to %s.
Colours: <span style="color:#2e7d32">succeeded</span>, <span style="color:#c62828">failed</span>,
<span style="color:#ef6c00">stuck</span>, <span style="color:#6a1b9a">dead-lettered</span>, <span style="color:#1565c0">running</span>;
<span style="color:#90a4ae">grey</span>: queued before its cloud job started (the fan-out's spread and the rate-limit pacing).</p>
<svg xmlns="http://www.w3.org/2000/svg" width="960" height="%s" role="img" aria-label="timeline of run %s">
<line x1="330" y1="20" x2="930" y2="20" stroke="#999"/>
`, e(v.Run), e(v.Run), jobCount(len(v.Jobs)), len(v.Skipped), t0.UTC().Format(time.RFC3339), t1.UTC().Format(time.RFC3339), num(h), e(v.Run))
	for _, g := range groups {
		fmt.Fprintf(&b, "<text class=\"g\" x=\"4\" y=\"%s\">%s</text>\n", num(g.Y), e(g.Product))
	}
	for _, r := range bars {
		fmt.Fprintf(&b, `<text x="16" y="%s">%s</text>`, num(r.TextY), e(r.Label))
		if r.WaitW != 0 {
			fmt.Fprintf(&b, `<rect class="wait" x="%.1f" y="%s" width="%.1f" height="14" fill="#cfd8dc"><title>queued: the fan-out's spread and the rate-limit pacing</title></rect>`,
				r.WaitX, num(r.Y), r.WaitW)
		}
		fmt.Fprintf(&b, `<rect data-job="%s" data-state="%s" x="%.1f" y="%s" width="%.1f" height="14" fill="%s"><title>%s</title></rect>`+"\n",
			e(r.Job), e(r.State), r.X, num(r.Y), r.W, r.Colour, e(r.Title))
	}
	b.WriteString("</svg>\n")
	if len(v.Skipped) > 0 {
		b.WriteString("<h2>Skipped</h2><ul>")
		for _, sk := range v.Skipped {
			fmt.Fprintf(&b, "<li>%s (%s): %s</li>", e(sk.InstanceID), e(string(sk.Product)), e(sk.Reason))
		}
		b.WriteString("</ul>")
	}
	b.WriteString("\n</body></html>\n")
	return b.Bytes()
}

// num prints a coordinate as the template it replaces did (%v).
func num(f float64) string { return fmt.Sprint(f) }

type reportBar struct {
	Job, Label, State, Colour, Title string
	X, Y, W, TextY                   float64
	// WaitX, WaitW: the grey segment from the job's cause to its cloud
	// start — the fan-out's spread and the pacer's slots, which draw the
	// rate limits as a staircase.
	WaitX, WaitW float64
}

type reportGroup struct {
	Product string
	Y       float64
}

func colourOf(state string) string {
	switch Result(state) {
	case Succeeded:
		return "#2e7d32"
	case Failed:
		return "#c62828"
	case Stuck:
		return "#ef6c00"
	case DeadLettered:
		return "#6a1b9a"
	}
	return "#1565c0" // still running
}

// jobCount counts jobs in words: "1 job", "2 jobs".
func jobCount(n int) string {
	if n == 1 {
		return "1 job"
	}
	return fmt.Sprintf("%d jobs", n)
}
