package simulate

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/backupflow/backupflow/pkg/flow"
)

// indexedLedger is the real ledger (mem://) with an index of the keys under
// indexedPrefixes, so that List of a run's outcomes costs what it costs on an object
// store (one listing of that prefix) instead of the mem driver's scan of
// every key in the process. Without it the run-summary bookkeeping — one
// List per finished job — makes a 10,000-job night quadratic in the
// simulator, which would measure the test double rather than the flow.
type indexedLedger struct {
	flow.Ledger
	mu   sync.Mutex
	dirs map[string]map[string]struct{}
}

// indexedPrefixes are the listings the flow makes per job or per
// instance: a run's outcomes, an instance's jobs (retention reads them)
// and retention's records; those every sweep makes (open jobs, open runs:
// the idle day's 144 sweeps each scanned the ledger's hundreds of
// thousands of keys, a quarter of the run's CPU time); and the dead
// letters, which each nightly summary counts.
var indexedPrefixes = []string{"runs/", "instances/", "retention/", "open/", "open-runs/", "dead/"}

func indexed(key string) (string, bool) {
	for _, p := range indexedPrefixes {
		if strings.HasPrefix(key, p) {
			return p, true
		}
	}
	return "", false
}

func newIndexedLedger(l flow.Ledger) *indexedLedger {
	return &indexedLedger{Ledger: l, dirs: map[string]map[string]struct{}{}}
}

func (l *indexedLedger) note(key string) {
	prefix, ok := indexed(key)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(prefix) - 1; i < len(key); i++ {
		if key[i] != '/' {
			continue
		}
		dir := key[:i+1]
		set := l.dirs[dir]
		if set == nil {
			set = map[string]struct{}{}
			l.dirs[dir] = set
		}
		set[key] = struct{}{}
	}
}

func (l *indexedLedger) Claim(ctx context.Context, key string, value []byte) (bool, error) {
	ok, err := l.Ledger.Claim(ctx, key, value)
	if err == nil && ok {
		l.note(key)
	}
	return ok, err
}

func (l *indexedLedger) Put(ctx context.Context, key string, value []byte) error {
	err := l.Ledger.Put(ctx, key, value)
	if err == nil {
		l.note(key)
	}
	return err
}

func (l *indexedLedger) Delete(ctx context.Context, key string) error {
	err := l.Ledger.Delete(ctx, key)
	if prefix, ok := indexed(key); err == nil && ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := len(prefix) - 1; i < len(key); i++ {
			if key[i] == '/' {
				delete(l.dirs[key[:i+1]], key)
			}
		}
	}
	return err
}

func (l *indexedLedger) List(ctx context.Context, prefix string) ([]string, error) {
	if _, ok := indexed(prefix); !ok || !strings.HasSuffix(prefix, "/") {
		return l.Ledger.List(ctx, prefix)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.dirs[prefix]
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out) // in key order, as an object store lists
	return out, nil
}
