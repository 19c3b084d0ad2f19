package openurl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// Env is what every Opener gets besides the URL. The zero Env reads no
// environment, runs on the wall clock and lets each driver pick its client.
type Env struct {
	// Getenv is the environment drivers read their settings from; nil
	// reads nothing (every setting at its default).
	Getenv func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HTTPClient carries cloud requests; nil means each driver's default.
	HTTPClient *http.Client
}

// Lookup reads one variable; a nil Getenv reads "".
func (e Env) Lookup(key string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(key)
}

// Clock returns Now, or time.Now when it is nil.
func (e Env) Clock() func() time.Time {
	if e.Now == nil {
		return time.Now
	}
	return e.Now
}

// Opener opens a T for a URL whose scheme it was registered under.
type Opener[T any] func(ctx context.Context, u *url.URL, env Env) (T, error)

// Registry maps schemes to the openers of one kind of resource. Safe for
// concurrent use.
type Registry[T any] struct {
	kind    string
	mu      sync.RWMutex
	openers map[string]Opener[T]
}

var (
	allMu sync.Mutex
	all   = map[string]interface{ Schemes() []string }{}
)

// NewRegistry returns the registry of a kind ("queue", "ledger", "object
// store"); the kind names it in errors and in Schemes. A kind is made once,
// by its portable package.
func NewRegistry[T any](kind string) *Registry[T] {
	r := &Registry[T]{kind: kind, openers: map[string]Opener[T]{}}
	allMu.Lock()
	defer allMu.Unlock()
	if _, dup := all[kind]; dup {
		panic("openurl: registry made twice: " + kind)
	}
	all[kind] = r
	return r
}

// Register makes scheme open through o. Drivers call it from init; a
// scheme registered twice is a programming error and panics.
func (r *Registry[T]) Register(scheme string, o Opener[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.openers[scheme]; dup {
		panic("openurl: " + r.kind + " scheme registered twice: " + scheme)
	}
	r.openers[scheme] = o
}

// Open parses rawURL and calls the opener of its scheme. Errors never quote
// the URL (a value set in the wrong variable may be a credential): an
// unknown scheme is answered with the schemes this binary has.
func (r *Registry[T]) Open(ctx context.Context, rawURL string, env Env) (T, error) {
	var zero T
	known := r.Schemes()
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return zero, fmt.Errorf("open %s: %w", r.kind, apierr.Invalid("not a URL (this binary opens %s)", list(known)))
	}
	r.mu.RLock()
	op, ok := r.openers[u.Scheme]
	r.mu.RUnlock()
	if !ok {
		return zero, fmt.Errorf("open %s: %w", r.kind,
			apierr.Invalid("unknown scheme (this binary opens %s; the other platform's drivers are not built in)", list(known)))
	}
	v, err := op(ctx, u, env)
	if err != nil {
		return zero, fmt.Errorf("open %s: %w", r.kind, err)
	}
	return v, nil
}

// Schemes lists the registered schemes, sorted.
func (r *Registry[T]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.openers))
	for s := range r.openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Schemes lists, for every kind, the schemes this binary opens: the one
// place that says what a build can open.
func Schemes() map[string][]string {
	allMu.Lock()
	defer allMu.Unlock()
	out := make(map[string][]string, len(all))
	for kind, r := range all {
		out[kind] = r.Schemes()
	}
	return out
}

func list(schemes []string) string {
	if len(schemes) == 0 {
		return "nothing: import a driver package"
	}
	return strings.Join(schemes, "://, ") + "://"
}
