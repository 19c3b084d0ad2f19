package local

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/cron"
	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/pkg/function"
)

// TimerEvent is the payload SCF delivers for a timer trigger.
func TimerEvent(name, argument string, at time.Time) []byte {
	b, _ := json.Marshal(struct {
		Type        string
		TriggerName string
		Time        string
		Message     string
	}{"Timer", name, at.UTC().Truncate(time.Second).Format(time.RFC3339), argument})
	return b
}

// isDrain reports whether a timer drains a queue (its argument is the drain
// message): those fire every Tick locally.
func (s *Stack) isDrain(t descriptor.Trigger) bool {
	return strings.EqualFold(strings.TrimSpace(t.Parameters.Argument), function.DrainMessage)
}

// FireTimer invokes the named timer trigger now, as SCF would at its time,
// and returns the function's report.
func (s *Stack) FireTimer(name string) (function.Report, error) {
	for _, t := range s.Desc.Inputs.Triggers {
		if t.Type == "timer" && t.Parameters.Name == name {
			f := s.Functions[t.Function]
			out, err := Invoke(s.ctx, f.Handler, f.Name, f.Timeout, TimerEvent(name, t.Parameters.Argument, time.Now()))
			var rep function.Report
			if err == nil {
				err = json.Unmarshal(out, &rep)
			}
			if err == nil {
				s.fired(name, rep)
			}
			return rep, err
		}
	}
	return function.Report{}, fmt.Errorf("serverless.yml has no timer trigger named %q", name)
}

func (s *Stack) startTimers() {
	for _, t := range s.Desc.Inputs.Triggers {
		if t.Type != "timer" || !t.Parameters.Enabled() {
			continue
		}
		sched, err := cron.Parse(t.Parameters.CronExpression)
		if err != nil {
			s.opts.Log.Error("timer trigger not started", "trigger", t.Parameters.Name, "err", err)
			continue
		}
		drain := s.isDrain(t)
		if s.opts.FireNow && !drain {
			s.InvokeAsync(t.Function, t.Parameters.Name, TimerEvent(t.Parameters.Name, t.Parameters.Argument, time.Now()), false)
		}
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.runTimer(t, sched, drain)
		}()
	}
}

// runTimer fires one trigger on its cron (in UTC, as SCF evaluates it), or
// every Tick for a drain timer.
func (s *Stack) runTimer(t descriptor.Trigger, sched *cron.Schedule, drain bool) {
	for {
		now := time.Now().UTC()
		next := sched.Next(now)
		if drain && s.opts.Tick > 0 {
			next = now.Add(s.opts.Tick)
		}
		if next.IsZero() {
			return
		}
		tm := time.NewTimer(time.Until(next))
		select {
		case <-s.ctx.Done():
			tm.Stop()
			return
		case <-tm.C:
		}
		// A drain still running covers this tick; SCF would start a second
		// instance, which would find the queue being emptied.
		s.InvokeAsync(t.Function, t.Parameters.Name, TimerEvent(t.Parameters.Name, t.Parameters.Argument, next), drain)
	}
}

// fired says what a run-starting timer (not a drain) did, whatever fired
// it: its cron, --now or `backupflow local trigger`.
func (s *Stack) fired(trigger string, rep function.Report) {
	for _, t := range s.Desc.Inputs.Triggers {
		if t.Type == "timer" && t.Parameters.Name == trigger && !s.isDrain(t) {
			fmt.Fprintln(s.con, FiredLine(trigger, rep))
			return
		}
	}
}

// FiredLine is the one line that reports a run-starting timer's work.
func FiredLine(trigger string, rep function.Report) string {
	l := fmt.Sprintf("%s fired: %d queued, %d skipped", trigger, len(rep.Jobs), rep.Skipped)
	if rep.Run != "" {
		l += " (run " + rep.Run + ")"
	}
	return l
}
