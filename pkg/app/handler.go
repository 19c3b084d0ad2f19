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
			cfg, err := config.Load()
			if err != nil {
				mu.Unlock()
				return nil, err
			}
			a, err := Open(ctx, cfg, Options{Function: function})
			if err != nil {
				mu.Unlock()
				return nil, fmt.Errorf("%s: %w", function, err)
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
