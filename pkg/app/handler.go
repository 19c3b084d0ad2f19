package app

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/invoke"
)

// envHandler returns a function handler that wires itself from the environment
// on first use and again whenever the environment changes. On SCF Go1 the
// environment, including the role's temporary credentials, arrives with each
// invocation, so it cannot be read at process start.
func envHandler(function string, build func(*App) (invoke.Handler, error)) invoke.Handler {
	var (
		mu   sync.Mutex
		sum  [32]byte
		h    invoke.Handler
		have bool
	)
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		cur := envSum()
		if !have || cur != sum {
			a, err := FromEnv(ctx, function)
			if err != nil {
				mu.Unlock()
				return nil, err
			}
			if h, err = build(a); err != nil {
				mu.Unlock()
				return nil, fmt.Errorf("%s: %w", function, err)
			}
			sum, have = cur, true
		}
		handler := h
		mu.Unlock()
		return handler(ctx, payload)
	}
}

// FromEnv wires a deployed function: its configuration read from the
// process environment by the one loader, every part opened from it. The
// event functions (through app.Main) and the chatops function
// (chatapp.Handler) start here, and so does the test that opens every
// registered scheme as deployed.
func FromEnv(ctx context.Context, function string) (*App, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	a, err := Open(ctx, cfg, Options{Function: function, Now: crashClock()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	return a, nil
}

// envSum fingerprints the environment without keeping any value.
func envSum() [32]byte {
	env := os.Environ()
	sort.Strings(env)
	h := sha256.New()
	for _, kv := range env {
		h.Write([]byte(kv))
		h.Write([]byte{0})
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
