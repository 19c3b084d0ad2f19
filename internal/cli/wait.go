package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
)

// checkInstance looks the instance up by id (one describe call) and refuses
// one the nightly run would skip (isolated, creating, a read-only replica),
// tagged for discovery or not: its create would be refused and retried for
// hours. An instance the cloud does not list is left to the create, which
// fails with the cloud's own code.
func checkInstance(ctx context.Context, env Env, a *app.App, instance string) (int, bool) {
	p, ok := provider.ProductOf(instance)
	if !ok {
		return ExitOK, true // Enqueue names the shape that is wrong
	}
	d, ok := a.Providers[p].(provider.Describer)
	if !ok {
		return ExitOK, true
	}
	in, found, err := d.Describe(ctx, instance)
	if err != nil {
		// The create will meet the same fault and classify it; a lookup
		// that failed is no reason to refuse the backup.
		env.Log.Warn("instance check failed; backing up anyway", "instance", instance, "err", err)
		return ExitOK, true
	}
	if found && !in.Eligible {
		return errorf(env, ExitFailed, "backup: %s %s is %s, so it cannot be backed up now (the nightly run skips it too); nothing was started",
			p, instance, in.Reason), false
	}
	return ExitOK, true
}

// waitJob drives the job's queues in this process until it has an outcome,
// showing its progress.
func waitJob(ctx context.Context, env Env, a *app.App, id string, timeout time.Duration, last *answers) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	p := &progress{w: env.Stdout, terminal: isTerminal(env.Stdout)}
	defer p.end()
	for {
		for _, q := range []*queue.Queue{a.Work, a.Poll} {
			msgs, err := q.Receive(ctx, 16, 0)
			if err != nil {
				p.end()
				return errorf(env, ExitRuntime, "%v", err)
			}
			for _, m := range msgs {
				// A step handed on without a failed try is progress: the
				// retry shown before is over.
				var jm job.Message
				if json.Unmarshal(m.Body, &jm) == nil && jm.Seq > 0 && jm.Attempt == 0 && jm.Lookups == 0 {
					last.clear()
				}
				if err := a.Service.Handle(ctx, m.Body); err != nil {
					env.Log.Warn("step will be retried", "job", id, "err", err)
					continue
				}
				_ = q.Delete(ctx, m.Receipt)
			}
		}
		st, out, err := a.Service.State(ctx, id)
		if err == nil {
			p.show(time.Now(), describe(id, st, out, last.get()), time.Since(start))
		}
		if out != nil {
			p.end()
			if out.Result == flow.Succeeded {
				return ExitOK
			}
			return ExitFailed
		}
		select {
		case <-ctx.Done():
			p.end()
			return errorf(env, ExitRuntime, "job %s: gave up waiting (%v); it may still finish in the cloud", id, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// describe is the job's progress: its state from the ledger or, while a
// step is retried (the ledger still says "queued" then), the step, the try
// and the cloud's last answer.
func describe(id string, st flow.JobState, out *flow.Outcome, rt retry) string {
	switch {
	case out != nil:
		s := fmt.Sprintf("job %s: %s", id, out.Result)
		if out.Code != "" {
			s += " — " + out.Code + ": " + out.Message
		}
		return s
	case rt.try > 0:
		step := "create"
		if rt.step == string(job.StepPoll) {
			step = "status check"
		}
		s := fmt.Sprintf("job %s: retrying the %s, attempt %d", id, step, rt.try+1)
		if rt.code != "" {
			s += "\x00" + rt.code
		}
		return s
	}
	return fmt.Sprintf("job %s: %s, %d status checks", id, st.State, st.Polls)
}

// progress shows one changing line: redrawn in place on a terminal, a line
// per change otherwise (so a log file gets no carriage returns and no line
// per second).
type progress struct {
	w        io.Writer
	terminal bool
	last     string
	drawn    bool
}

// show displays line (a "\x00" in it separates the last cloud answer,
// printed after the elapsed time).
func (p *progress) show(now time.Time, line string, elapsed time.Duration) {
	head, answer, _ := strings.Cut(line, "\x00")
	text := fmt.Sprintf("%s, %s elapsed", head, elapsed.Round(time.Second))
	if answer != "" {
		text += ", last answer: " + answer
	}
	if p.terminal {
		fmt.Fprint(p.w, "\r\x1b[K"+text)
		p.drawn = true
		return
	}
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.w, "%s %s\n", now.Format("15:04:05"), text)
}

// end finishes a redrawn line so what follows starts on a line of its own.
func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// answers passes records on to the command's handler and keeps the flow's
// last retry of the job (the cloud's answer, the try and the step), whatever
// the log level shows: the ledger says "queued" until a create succeeds.
type answers struct {
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs: the flow logs its step there
	mu    *sync.Mutex
	last  *retry
}

type retry struct {
	code, step string
	try        int64
}

func newAnswers(next slog.Handler) *answers {
	return &answers{next: next, mu: &sync.Mutex{}, last: &retry{}}
}

func (h *answers) get() retry {
	if h == nil {
		return retry{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return *h.last
}

// clear forgets the last retry: the job made progress.
func (h *answers) clear() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.last = retry{}
}

func (h *answers) Enabled(context.Context, slog.Level) bool { return true }

func (h *answers) Handle(ctx context.Context, r slog.Record) error {
	var rt retry
	note := func(a slog.Attr) bool {
		switch a.Key {
		case "code":
			rt.code = a.Value.String()
		case "step":
			rt.step = a.Value.String()
		case "try":
			rt.try = a.Value.Int64()
		}
		return true
	}
	for _, a := range h.attrs {
		note(a)
	}
	r.Attrs(note)
	if rt.try > 0 {
		h.mu.Lock()
		*h.last = rt
		h.mu.Unlock()
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *answers) WithAttrs(as []slog.Attr) slog.Handler {
	return &answers{next: h.next.WithAttrs(as), attrs: append(slices.Clip(h.attrs), as...), mu: h.mu, last: h.last}
}

func (h *answers) WithGroup(name string) slog.Handler {
	return &answers{next: h.next.WithGroup(name), attrs: h.attrs, mu: h.mu, last: h.last}
}
