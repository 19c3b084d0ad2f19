package ledger

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
)

func init() {
	Openers.Register("mem", openMemURL)
}

// openMemURL serves mem://<name>[?ttl=<duration>]. A ttl makes a record
// vanish that long after it was last written (it can then be claimed
// again); none keeps records forever. Object stores expire records by
// bucket lifecycle rules instead.
func openMemURL(_ context.Context, u *url.URL, env openurl.Env) (*Ledger, error) {
	name := u.Host + u.Path
	if name == "" {
		return nil, errors.New("mem:// needs a name")
	}
	var ttl time.Duration
	if v := u.Query().Get("ttl"); v != "" {
		var err error
		if ttl, err = time.ParseDuration(v); err != nil || ttl < 0 {
			return nil, apierr.Invalid("mem ledger ttl: want a duration such as 1h")
		}
	}
	return &Ledger{d: openMem(name, ttl, env.Clock()), url: "mem://" + name}, nil
}

// memStores holds every mem:// ledger of the process by name, so functions
// wired in one process (the local stack) share records as they would share
// a bucket. It is the package's only global state, by design of mem://.
var memStores = struct {
	sync.Mutex
	m map[string]*memData
}{m: map[string]*memData{}}

type memData struct {
	mu      sync.Mutex
	entries map[string]memEntry
}

type memEntry struct {
	value   []byte
	expires time.Time // zero: never
}

// mem is one handle on a named store; TTL and clock belong to the handle.
type mem struct {
	data *memData
	ttl  time.Duration
	now  func() time.Time
}

func openMem(name string, ttl time.Duration, now func() time.Time) *mem {
	memStores.Lock()
	defer memStores.Unlock()
	d := memStores.m[name]
	if d == nil {
		d = &memData{entries: map[string]memEntry{}}
		memStores.m[name] = d
	}
	return &mem{data: d, ttl: ttl, now: now}
}

// live reports whether e exists at t; the caller holds the lock.
func (e memEntry) live(t time.Time) bool { return e.expires.IsZero() || t.Before(e.expires) }

func (m *mem) entry(value []byte) memEntry {
	e := memEntry{value: append([]byte(nil), value...)}
	if m.ttl > 0 {
		e.expires = m.now().Add(m.ttl)
	}
	return e
}

func (m *mem) create(ctx context.Context, key string, value []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.data.mu.Lock()
	defer m.data.mu.Unlock()
	if e, ok := m.data.entries[key]; ok && e.live(m.now()) {
		return false, nil
	}
	m.data.entries[key] = m.entry(value)
	return true, nil
}

func (m *mem) get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.data.mu.Lock()
	defer m.data.mu.Unlock()
	e, ok := m.data.entries[key]
	if !ok {
		return nil, false, nil
	}
	if !e.live(m.now()) {
		delete(m.data.entries, key)
		return nil, false, nil
	}
	return append([]byte(nil), e.value...), true, nil
}

func (m *mem) put(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.data.mu.Lock()
	defer m.data.mu.Unlock()
	m.data.entries[key] = m.entry(value)
	return nil
}

func (m *mem) list(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.data.mu.Lock()
	defer m.data.mu.Unlock()
	now := m.now()
	var keys []string
	for k, e := range m.data.entries {
		if !e.live(now) {
			delete(m.data.entries, k)
			continue
		}
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (m *mem) delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.data.mu.Lock()
	defer m.data.mu.Unlock()
	delete(m.data.entries, key)
	return nil
}
