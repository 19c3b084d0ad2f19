package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/flow"
)

// console owns the output: on a terminal it keeps the jobs table pinned
// below everything else written (logs, notifications), redrawing it after
// each write; otherwise it passes writes through.
type console struct {
	mu     sync.Mutex
	w      io.Writer
	table  bool // redraw a table; false prints one line per change
	off    bool
	footer []string
}

func newConsole(w io.Writer, mode string) *console {
	c := &console{w: w}
	switch mode {
	case "table":
		c.table = true
	case "off":
		c.off = true
	case "lines":
	default:
		c.table = isTerminal(w)
	}
	return c
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Write prints p above the table.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
	n, err := c.w.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		_, _ = io.WriteString(c.w, "\n")
	}
	c.draw()
	return n, err
}

// SetFooter replaces the pinned lines (table mode only).
func (c *console) SetFooter(lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Equal(lines, c.footer) {
		return
	}
	c.erase()
	c.footer = lines
	c.draw()
}

// Keep leaves the pinned lines on the screen as ordinary output.
func (c *console) Keep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.footer = nil
}

func (c *console) erase() {
	if c.table && len(c.footer) > 0 {
		fmt.Fprintf(c.w, "\x1b[%dA\x1b[J", len(c.footer))
	}
}

func (c *console) draw() {
	if c.table {
		for _, l := range c.footer {
			io.WriteString(c.w, l+"\n")
		}
	}
}

// notices is what the functions print (print: notifications, chat
// replies): each write goes out after the view is brought up to date, so
// it follows the job changes before it (view.before).
type notices struct{ s *Stack }

func (n notices) Write(p []byte) (int, error) {
	v := n.s.view
	if v == nil {
		return n.s.con.Write(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var written int
	var err error
	v.before(ctx, func() { written, err = n.s.con.Write(p) })
	return written, err
}

// Row is one job as the view shows it.
type Row struct {
	JobID   string
	Kind    string // backup or import, and what caused it
	Target  string
	State   string // queued, running, succeeded, failed, stuck, dead-lettered
	Attempt int
	Polls   int
	Elapsed time.Duration
	Outcome *flow.Outcome
	Source  string // timer, cos, chat, cli
	Created time.Time
}

func (r Row) line() string {
	return fmt.Sprintf("%-24s %-14s %-16s %-13s %7d %8s", r.JobID, r.Kind, r.Target, r.State, r.Attempt,
		r.Elapsed.Round(time.Second))
}

const header = "JOB                      KIND           TARGET           STATE         ATTEMPT  ELAPSED"

// linesHeader heads the lines view: each line is a job's change, at a time.
const linesHeader = "TIME     " + header

// view follows the jobs in the ledger.
type view struct {
	con *console
	a   *app.App

	mu     sync.Mutex
	rows   map[string]Row
	order  []string
	now    func() time.Time
	headed bool // the lines view printed its header
}

func newView(con *console, a *app.App) *view {
	return &view{con: con, a: a, rows: map[string]Row{}, now: time.Now}
}

func (v *view) run(ctx context.Context) {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		v.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refresh reads the state of every job not yet finished and reports the
// changes.
func (v *view) refresh(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.refreshLocked(ctx)
}

// before brings the view up to date, then calls write, with no change
// printed in between. The view learns of a change at its next poll, but a
// function prints a notification as it sends it, right after the outcome
// it tells of: written through here, a notice comes after the job lines
// that led to it (the night's summary after every job's outcome), so the
// output follows the order of events.
func (v *view) before(ctx context.Context, write func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.refreshLocked(ctx)
	write()
}

func (v *view) refreshLocked(ctx context.Context) {
	keys, err := v.a.Ledger.List(ctx, "jobs/")
	if err != nil {
		return
	}
	ids := map[string]bool{}
	for _, k := range keys {
		if id, _, ok := strings.Cut(strings.TrimPrefix(k, "jobs/"), "/"); ok {
			ids[id] = true
		}
	}
	var changed []Row
	for id := range ids {
		old, known := v.rows[id]
		if known && old.Outcome != nil {
			continue
		}
		// A job's other records (its start claim, a run's index) can be
		// written before its state: it is shown once that exists, with
		// what it is and what it works on.
		st, out, err := v.a.Service.State(ctx, id)
		if err != nil {
			continue
		}
		r := rowOf(st, out, v.now())
		if !known {
			v.order = append(v.order, id)
		}
		v.rows[id] = r
		if !known || r.State != old.State || r.Attempt != old.Attempt || r.Target != old.Target {
			changed = append(changed, r)
		}
	}
	if v.con.off {
		return
	}
	if v.con.table {
		v.drawTable()
		return
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Created.Before(changed[j].Created) })
	for _, r := range changed {
		if !v.headed {
			fmt.Fprintln(v.con, linesHeader)
			v.headed = true
		}
		fmt.Fprintf(v.con, "%s %s\n", v.now().Format("15:04:05"), r.line())
	}
}

func rowOf(st flow.JobState, out *flow.Outcome, now time.Time) Row {
	r := Row{JobID: st.JobID, Kind: string(st.Spec.Op) + "/" + st.Origin.Source, Target: st.Spec.InstanceID,
		State: st.State, Attempt: st.Tries, Polls: st.Polls, Source: st.Origin.Source, Created: st.Created}
	r.Elapsed = now.Sub(st.Created)
	if out != nil {
		r.Outcome, r.State, r.Attempt, r.Polls = out, string(out.Result), out.Attempts, out.Polls
		r.Elapsed = out.Duration()
	}
	if r.Elapsed < 0 {
		r.Elapsed = 0
	}
	return r
}

func (v *view) drawTable() {
	lines := []string{"", header}
	for _, id := range v.order {
		lines = append(lines, v.rows[id].line())
	}
	if len(v.order) == 0 {
		lines = append(lines, "(no jobs yet: drop a .bak into the bucket folder, send a chat command, or run with --now)")
	}
	v.con.SetFooter(lines)
}

// Rows returns the jobs seen so far, oldest first.
func (v *view) Rows() []Row {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Row, 0, len(v.order))
	for _, id := range v.order {
		out = append(out, v.rows[id])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Table renders rows as the final table.
func Table(rows []Row) string {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	for _, r := range rows {
		b.WriteString(r.line() + "\n")
	}
	return b.String()
}
