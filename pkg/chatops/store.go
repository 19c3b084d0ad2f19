package chatops

import (
	"context"
	"time"
)

// Store keeps the little state the handler needs between requests: which
// messages were already acted on, and imports waiting for confirmation. It
// must be shared by every instance of the function: the deployed one is the
// ledger (chatapp.Store), which takes keys of printable characters only.
//
// Implementations are safe for concurrent use and honour ttl; a key may live
// longer than ttl but never shorter.
type Store interface {
	// Claim records key and reports whether this call was the first to do so
	// while the key is live. It is the replay guard: only the caller that gets
	// true may act.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Put stores val under key for ttl, replacing any earlier value.
	Put(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Get returns the live value under key; found is false when there is none.
	Get(ctx context.Context, key string) (val []byte, found bool, err error)
}
