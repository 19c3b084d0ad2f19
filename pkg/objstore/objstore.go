package objstore

import (
	"context"
	"errors"
	"time"

	"github.com/backupflow/backupflow/pkg/openurl"
)

// Object is what a store says about one object.
type Object struct {
	Bucket, Key string
	ETag        string // without quotes
	VersionID   string // empty unless the bucket keeps versions
	Size        int64
}

// Errors callers branch on; the cloud's code and request id stay reachable
// through errors.As(*apierr.Error).
var (
	// ErrNotFound: the object or the bucket does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: a create-if-absent write found the object already there.
	ErrExists = errors.New("object already exists")
)

// Presign validity: short-lived by design (facts §A.3: a URL signed with
// temporary credentials dies with them anyway).
const (
	DefaultPresignTTL = time.Hour
	MaxPresignTTL     = 2 * time.Hour
)

// Store is what every object-store driver provides (cosstore, s3store):
// the reads imports need and the records the ledger keeps.
type Store interface {
	// Presign returns a GET URL valid for ttl (DefaultPresignTTL for 0, at
	// most MaxPresignTTL).
	Presign(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
	Head(ctx context.Context, bucket, key string) (Object, error)
	// ReadMagic returns the first MagicLen bytes (fewer for a shorter object).
	ReadMagic(ctx context.Context, bucket, key string) ([]byte, error)
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	// Put writes data; with ifAbsent it fails with ErrExists when the key
	// is there, decided atomically by the store.
	Put(ctx context.Context, bucket, key string, data []byte, ifAbsent bool) error
	List(ctx context.Context, bucket, prefix string) ([]Object, error)
	Delete(ctx context.Context, bucket, key string) error
}

// Openers is the object-store registry: cosstore registers cos://,
// s3store s3://, each reading its own settings from the Env it is given.
var Openers = openurl.NewRegistry[Store]("object store")

// Open opens the object store of a URL's scheme: cos:// or s3://. The
// driver must be imported.
func Open(ctx context.Context, rawURL string, env openurl.Env) (Store, error) {
	return Openers.Open(ctx, rawURL, env)
}
