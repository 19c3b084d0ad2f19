package objstore

import (
	"errors"
	"time"
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

func presignTTL(ttl time.Duration) time.Duration {
	switch {
	case ttl <= 0:
		return DefaultPresignTTL
	case ttl > MaxPresignTTL:
		return MaxPresignTTL
	}
	return ttl
}
