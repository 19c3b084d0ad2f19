package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
)

// driver is what a backend provides; Ledger validates keys before calling it.
type driver interface {
	create(ctx context.Context, key string, value []byte) (bool, error)
	get(ctx context.Context, key string) ([]byte, bool, error)
	put(ctx context.Context, key string, value []byte) error
	list(ctx context.Context, prefix string) ([]string, error)
	delete(ctx context.Context, key string) error
}

// Ledger is a durable key/value record set. Keys are slash-separated paths
// ("claims/import/<job-id>"). Safe for concurrent use, across processes too
// for cos:// and s3:// (the object store arbitrates Claim).
type Ledger struct {
	d   driver
	url string // without secrets, for errors
}

// Openers is the ledger registry: mem:// is built in, cosledger registers
// cos:// and s3ledger s3://, each reading its settings from the Env it is
// given.
var Openers = openurl.NewRegistry[*Ledger]("ledger")

// Open opens a ledger by URL: mem://<name>[?ttl=<duration>] (shared by
// every Open of that name in the process), cos://<bucket>/<prefix> or
// s3://<bucket>/<prefix> (their drivers must be imported).
func Open(ctx context.Context, rawURL string, env openurl.Env) (*Ledger, error) {
	return Openers.Open(ctx, rawURL, env)
}

// New builds a ledger over any object store (an objstore.Store, or a test
// double) under bucket/prefix.
func New(s ObjectStore, bucket, prefix string) (*Ledger, error) {
	return NewObjects(s, "store", bucket, prefix)
}

// NewObjects is New for a driver: scheme names the ledger in errors
// (cos://bucket/prefix/...).
func NewObjects(s ObjectStore, scheme, bucket, prefix string) (*Ledger, error) {
	if bucket == "" {
		return nil, fmt.Errorf("%s://: no bucket", scheme)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return nil, fmt.Errorf("%s://%s: prefix: %w", scheme, bucket, err)
		}
		prefix += "/"
	}
	return &Ledger{d: &objects{s: s, bucket: bucket, prefix: prefix}, url: scheme + "://" + bucket + "/" + prefix}, nil
}

// checkKey keeps keys to plain relative paths, so every backend (a
// directory-backed emulator included) stores them the same way.
func checkKey(key string) error {
	switch {
	case key == "":
		return apierr.Invalid("empty ledger key")
	case len(key) > 512:
		return apierr.Invalid("ledger key longer than 512 bytes")
	case !utf8.ValidString(key):
		return apierr.Invalid("ledger key is not UTF-8")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return apierr.Invalid("ledger key %q: empty, . or .. path segment", key)
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return apierr.Invalid("ledger key %q: control character or backslash", key)
		}
	}
	return nil
}

// Claim creates key with value if it does not exist and reports whether this
// call created it. Of any number of concurrent claims on one key, exactly
// one gets true — the basis of "one outcome per job".
func (l *Ledger) Claim(ctx context.Context, key string, value []byte) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, fmt.Errorf("ledger: claim: %w", err)
	}
	ok, err := l.d.create(ctx, key, value)
	if err != nil {
		return false, fmt.Errorf("ledger: claim %s%s: %w", l.url, key, err)
	}
	return ok, nil
}

// Get returns the value of key; ok is false when it does not exist.
func (l *Ledger) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	if err := checkKey(key); err != nil {
		return nil, false, fmt.Errorf("ledger: get: %w", err)
	}
	v, ok, err := l.d.get(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: get %s%s: %w", l.url, key, err)
	}
	return v, ok, nil
}

// Put writes key, replacing any value.
func (l *Ledger) Put(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("ledger: put: %w", err)
	}
	if err := l.d.put(ctx, key, value); err != nil {
		return fmt.Errorf("ledger: put %s%s: %w", l.url, key, err)
	}
	return nil
}

// List returns the keys that start with prefix, sorted. An empty prefix
// lists everything; a prefix is a plain string match, so end it with "/" to
// list one "directory".
func (l *Ledger) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := l.d.list(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s%s: %w", l.url, prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes key; deleting a missing key is not an error.
func (l *Ledger) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("ledger: delete: %w", err)
	}
	if err := l.d.delete(ctx, key); err != nil {
		return fmt.Errorf("ledger: delete %s%s: %w", l.url, key, err)
	}
	return nil
}
