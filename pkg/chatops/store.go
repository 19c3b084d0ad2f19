package chatops

import (
	"context"
	"sync"
	"time"
)

// Store keeps the little state the handler needs between requests: which
// messages were already acted on, and imports waiting for confirmation. It
// must be shared by every instance of the function (a durable ledger in
// production); MemoryStore serves tests and the local stack.
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

// MemoryStore is an in-process Store on an injected clock.
type MemoryStore struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]memEntry
	ops     int
}

type memEntry struct {
	val     []byte
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore whose entries expire by now.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	return &MemoryStore{now: now, entries: make(map[string]memEntry)}
}

// Claim implements Store.
func (m *MemoryStore) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	if e, ok := m.entries[key]; ok && now.Before(e.expires) {
		return false, nil
	}
	m.entries[key] = memEntry{expires: now.Add(ttl)}
	return true, nil
}

// Put implements Store.
func (m *MemoryStore) Put(_ context.Context, key string, val []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	m.entries[key] = memEntry{val: append([]byte(nil), val...), expires: now.Add(ttl)}
	return nil
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) {
		return nil, false, nil
	}
	return append([]byte(nil), e.val...), true, nil
}

// sweep drops expired entries every few hundred operations so a long-lived
// local stack does not grow without bound. Callers hold mu.
func (m *MemoryStore) sweep() time.Time {
	now := m.now()
	m.ops++
	if m.ops%256 == 0 {
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
	}
	return now
}
