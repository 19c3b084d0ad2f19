package flow

import (
	"context"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Sender hands a message to a queue. Delay must not exceed MaxDelay; longer
// waits are chained with job.Message.NotBefore.
type Sender interface {
	Send(ctx context.Context, body []byte, delay time.Duration) (string, error)
	MaxDelay() time.Duration
}

// Ledger is a create-if-absent key/value store. Claims make duplicates of a
// message or of a cause collapse onto one effect.
type Ledger interface {
	Claim(ctx context.Context, key string, value []byte) (bool, error)
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes key (the sweep's record of a finished job); a missing
	// key is no error.
	Delete(ctx context.Context, key string) error
}

// Notifier posts a notice to the team's channels.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Objects is what the import flow needs from the object store.
type Objects interface {
	Presign(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
	Stat(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// CheckBackup reports, from the object's first bytes, whether it is a
	// SQL Server backup; the error says what it is instead.
	CheckBackup(ctx context.Context, bucket, key string) error
}

// ObjectInfo describes an uploaded object.
type ObjectInfo struct {
	ETag, VersionID string
	Size            int64
}

// Discoverer lists the instances of one product that carry a tag.
type Discoverer = provider.Discoverer

// Providers returns the adapter for a product.
type Providers func(provider.Product) (provider.Provider, error)
