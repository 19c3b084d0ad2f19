package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// The staleness alarm answers "did last night even run?". Per-job
// notifications cannot: a nightly timer that never fired (deleted, disabled,
// its function failing at start) makes no job, so nothing fails and nothing
// is said. The check runs with the sweep, on the drain timer, not on the
// nightly one: a target in scope whose last successful backup is older than
// Config.StaleAfter is notified once, until a backup of it succeeds again.
//
// Records (under watch/):
//   - scope: the nightly scope, merged by every full nightly run: each
//     target with when it entered it. A target the latest full run left out
//     has left the scope and is not watched; one that never succeeded is
//     stale StaleAfter after it entered.
//   - ok/<instance>: the last successful backup, written by the job.
//   - alarm/<instance>: claimed by the check that notifies, so concurrent
//     or duplicated checks notify once; removed when the target recovers.
//   - state: the check's own memory of each target's last success, so a
//     healthy fleet costs a read per target only about once per StaleAfter,
//     not one per target every check.

const (
	keyWatchScope = "watch/scope"
	keyWatchState = "watch/state"
	keyWatchLast  = "watch/last-check"
)

// stateWriteBudget bounds the write of the check's memory past its own
// budget: one ledger write.
const stateWriteBudget = 10 * time.Second

func keyWatchOK(instance string) string    { return "watch/ok/" + instance }
func keyWatchAlarm(instance string) string { return "watch/alarm/" + instance }

// watchScope is the nightly scope as the staleness check sees it.
type watchScope struct {
	Updated time.Time                `json:"updated"`
	Targets map[string]watchedTarget `json:"targets"`
}

type watchedTarget struct {
	Product provider.Product `json:"product"`
	Since   time.Time        `json:"since"` // entered the scope
}

// watchState is the check's memory: per target, the last success it read
// and whether it alarmed.
type watchState struct {
	Targets map[string]watchedState `json:"targets"`
}

type watchedState struct {
	LastOK  time.Time `json:"lastOk,omitzero"`
	Alarmed bool      `json:"alarmed,omitempty"`
}

// Stale is the notice of a target with no recent successful backup.
type Stale struct {
	Instance string
	Product  provider.Product
	// LastSuccess is zero when the target never had a successful backup
	// recorded; Since is when it entered the nightly scope.
	LastSuccess, Since time.Time
	Age, Limit         time.Duration
}

// StaleReport says what one staleness check did.
type StaleReport struct {
	Watched   int
	Stale     int // stale targets, notified now or before
	Notified  int
	Recovered int
	Skipped   bool // not due yet
}

// watchSuccess records a target's successful backup. Best effort: a missed
// write costs at worst an early alarm, never a lost backup.
func (s *Service) watchSuccess(ctx context.Context, o Outcome) {
	if o.Op != provider.Backup || o.Result != Succeeded || o.Instance == "" {
		return
	}
	if err := s.d.Ledger.Put(ctx, keyWatchOK(o.Instance), []byte(o.Finished.UTC().Format(time.RFC3339Nano))); err != nil {
		loggerFrom(ctx, s.log).Warn("last-success record not written", "err", err)
	}
}

// watchScopeUpdate merges a nightly run's targets into the watched scope. A
// full run replaces the scope (keeping each target's entry time); a run
// narrowed by a selection only adds.
func (s *Service) watchScopeUpdate(ctx context.Context, at time.Time, targets []Target, narrowed bool) error {
	var cur watchScope
	if b, ok, err := s.d.Ledger.Get(ctx, keyWatchScope); err != nil {
		return wrapLedger(err)
	} else if ok {
		if err := json.Unmarshal(b, &cur); err != nil {
			s.log.Warn("staleness scope unreadable; starting it again", "err", err)
			cur = watchScope{}
		}
	}
	next := watchScope{Updated: at.UTC(), Targets: map[string]watchedTarget{}}
	if narrowed {
		for id, t := range cur.Targets {
			next.Targets[id] = t
		}
		if cur.Updated.After(next.Updated) {
			next.Updated = cur.Updated
		}
	}
	for _, t := range targets {
		w, ok := cur.Targets[t.InstanceID]
		if !ok {
			w = watchedTarget{Product: t.Product, Since: at.UTC()}
		}
		next.Targets[t.InstanceID] = w
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	return wrapLedger(s.d.Ledger.Put(ctx, keyWatchScope, b))
}

// CheckStale notifies, once each, the targets in scope with no successful
// backup for longer than StaleAfter, and forgets the alarm of those that
// recovered. It runs at most once per StaleEvery unless force. The static
// targets are watched even before any nightly run recorded a scope, so a
// nightly timer that never fired at all is noticed too.
func (s *Service) CheckStale(ctx context.Context, force bool) (StaleReport, error) {
	var rep StaleReport
	if s.cfg.StaleAfter < 0 {
		rep.Skipped = true
		return rep, nil
	}
	now := s.d.Now()
	if !force {
		// As the sweep's gate: a warm process remembers the latest check
		// it knows of and reads the ledger only when that is StaleEvery
		// old (one read fewer in each of the day's 144 sweeps).
		if t := s.known(&s.watchedAt); !t.IsZero() && now.Sub(t) < s.cfg.StaleEvery {
			rep.Skipped = true
			return rep, nil
		}
		b, ok, err := s.d.Ledger.Get(ctx, keyWatchLast)
		if err != nil {
			return rep, wrapLedger(err)
		}
		if t, perr := time.Parse(time.RFC3339Nano, string(b)); ok && perr == nil && now.Sub(t) < s.cfg.StaleEvery {
			s.saw(&s.watchedAt, t)
			rep.Skipped = true
			return rep, nil
		}
	}
	if err := s.d.Ledger.Put(ctx, keyWatchLast, []byte(now.UTC().Format(time.RFC3339Nano))); err != nil {
		return rep, wrapLedger(err)
	}
	s.saw(&s.watchedAt, now)
	scope, err := s.watchedTargets(ctx, now)
	if err != nil {
		return rep, err
	}
	state := watchState{Targets: map[string]watchedState{}}
	if b, ok, err := s.d.Ledger.Get(ctx, keyWatchState); err != nil {
		return rep, wrapLedger(err)
	} else if ok {
		if err := json.Unmarshal(b, &state); err != nil || state.Targets == nil {
			state = watchState{Targets: map[string]watchedState{}}
		}
	}
	ids := make([]string, 0, len(scope.Targets))
	for id := range scope.Targets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs []error
	vouched := s.latestRunSuccesses(ctx, scope, now, &errs)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("staleness check: stopped after %d of %d targets: %w", rep.Watched, len(ids), err))
			break
		}
		rep.Watched++
		t, st := scope.Targets[id], state.Targets[id]
		ref := st.LastOK
		if ref.IsZero() || ref.Before(t.Since) {
			ref = t.Since
		}
		if now.Sub(ref) <= s.cfg.StaleAfter && !st.Alarmed {
			continue // fresh by what the check knew: no read
		}
		if !st.Alarmed && vouched(id) {
			// The scope's latest run backed it up: fresh since then at
			// least (its slot, a lower bound of the success), no read.
			if scope.Updated.After(st.LastOK) {
				st.LastOK = scope.Updated
			}
			state.Targets[id] = st
			continue
		}
		// Possibly stale, or alarmed and possibly recovered: read the
		// target's last success.
		if b, ok, err := s.d.Ledger.Get(ctx, keyWatchOK(id)); err != nil {
			errs = append(errs, wrapLedger(err))
			continue
		} else if ok {
			if ts, perr := time.Parse(time.RFC3339Nano, string(b)); perr == nil && ts.After(st.LastOK) {
				st.LastOK = ts
			}
		}
		ref = st.LastOK
		if ref.IsZero() || ref.Before(t.Since) {
			ref = t.Since
		}
		age := now.Sub(ref)
		if age <= s.cfg.StaleAfter {
			if st.Alarmed {
				if err := s.d.Ledger.Delete(ctx, keyWatchAlarm(id)); err != nil {
					errs = append(errs, wrapLedger(err))
				} else {
					st.Alarmed = false
					rep.Recovered++
					s.log.Info("target backed up again; staleness alarm cleared", "instance", id)
				}
			}
			state.Targets[id] = st
			continue
		}
		rep.Stale++
		if !st.Alarmed {
			won, err := s.d.Ledger.Claim(ctx, keyWatchAlarm(id), []byte(now.UTC().Format(time.RFC3339Nano)))
			if err != nil {
				errs = append(errs, wrapLedger(err))
				state.Targets[id] = st
				continue
			}
			if won {
				n := Stale{Instance: id, Product: t.Product, LastSuccess: st.LastOK, Since: t.Since,
					Age: age, Limit: s.cfg.StaleAfter}
				s.log.Warn("no successful backup for longer than the staleness limit", "instance", id,
					"age", age.Round(time.Minute).String(), "limit", s.cfg.StaleAfter.String())
				if err := s.d.Notifier.Notify(ctx, Notice{Stale: &n}); err != nil {
					// Unclaimed, so the next check sends it.
					if derr := s.d.Ledger.Delete(ctx, keyWatchAlarm(id)); derr != nil {
						err = errors.Join(err, derr)
					}
					errs = append(errs, fmt.Errorf("staleness alarm for %s: %w", id, err))
					state.Targets[id] = st
					continue
				}
				rep.Notified++
			}
			st.Alarmed = true
		}
		state.Targets[id] = st
	}
	for id := range state.Targets {
		if _, ok := scope.Targets[id]; !ok {
			delete(state.Targets, id) // left the scope
		}
	}
	if b, err := json.Marshal(state); err == nil {
		// Written even when the budget ran out: what was read is kept, so
		// the next check goes on from there. Written with the spent
		// context, it was lost, and at 10,000 targets every check re-read
		// the same first ones and never reached the rest.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateWriteBudget)
		defer cancel()
		if err := s.d.Ledger.Put(wctx, keyWatchState, b); err != nil {
			errs = append(errs, wrapLedger(err))
		}
	}
	s.log.Info("staleness check", "watched", rep.Watched, "stale", rep.Stale, "notified", rep.Notified,
		"recovered", rep.Recovered, "errors", len(errs))
	return rep, errors.Join(errs...)
}

// latestRunSuccesses says whether the scope's latest run (the nightly run
// at scope.Updated) backed a target up, from one listing of the run's
// outcomes, made only when some target asks and the run is recent enough
// to vouch (within StaleAfter). Without it, a day after a good night every
// target's memory expired together and the check read each one's record:
// at 10,000 targets, 10,000 reads a day — most of an idle day's calls.
func (s *Service) latestRunSuccesses(ctx context.Context, scope watchScope, now time.Time, errs *[]error) func(id string) bool {
	if scope.Updated.IsZero() || now.Sub(scope.Updated) > s.cfg.StaleAfter {
		return func(string) bool { return false }
	}
	slot := job.Slot(scope.Updated)
	prefix := keyRun("nightly-"+slot) + "jobs/"
	var ok map[string]bool
	return func(id string) bool {
		if ok == nil {
			ok = map[string]bool{}
			keys, err := s.d.Ledger.List(ctx, prefix)
			if err != nil {
				*errs = append(*errs, wrapLedger(err))
			}
			for _, k := range keys {
				if jid, r, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/"); Result(r) == Succeeded {
					ok[jid] = true
				}
			}
		}
		return ok[job.NewID("nightly", slot, id)]
	}
}

// watchedTargets is the recorded scope plus the static targets; a static
// target not yet in the record enters it now.
func (s *Service) watchedTargets(ctx context.Context, now time.Time) (watchScope, error) {
	var scope watchScope
	b, ok, err := s.d.Ledger.Get(ctx, keyWatchScope)
	if err != nil {
		return scope, wrapLedger(err)
	}
	if ok {
		if err := json.Unmarshal(b, &scope); err != nil {
			return scope, fmt.Errorf("staleness scope: %w", err)
		}
	}
	if scope.Targets == nil {
		scope.Targets = map[string]watchedTarget{}
	}
	added := false
	for _, t := range s.cfg.Targets {
		if _, ok := scope.Targets[t.InstanceID]; ok {
			continue
		}
		p := t.Product
		if p == "" {
			p, _ = provider.ProductOf(t.InstanceID)
		}
		scope.Targets[t.InstanceID] = watchedTarget{Product: p, Since: now.UTC()}
		added = true
	}
	if added {
		nb, err := json.Marshal(scope)
		if err != nil {
			return scope, err
		}
		if err := s.d.Ledger.Put(ctx, keyWatchScope, nb); err != nil {
			return scope, wrapLedger(err)
		}
	}
	return scope, nil
}
