package ledger

import (
	"context"
	"errors"
	"github.com/backupflow/backupflow/pkg/apierr"
	"strings"

	"github.com/backupflow/backupflow/pkg/objstore"
)

// ObjectStore is what a ledger needs from an object store; every
// objstore.Store provides it. Put with ifAbsent must be atomic on the server and
// return objstore.ErrExists when the key is taken; a missing key is
// objstore.ErrNotFound.
type ObjectStore interface {
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	Put(ctx context.Context, bucket, key string, data []byte, ifAbsent bool) error
	List(ctx context.Context, bucket, prefix string) ([]objstore.Object, error)
	Delete(ctx context.Context, bucket, key string) error
}

// objects keeps each record as one object <prefix><key>: COS's
// x-cos-forbid-overwrite and S3's If-None-Match: * make Claim atomic.
type objects struct {
	s      ObjectStore
	bucket string
	prefix string // "" or ending in "/"
}

func (o *objects) create(ctx context.Context, key string, value []byte) (bool, error) {
	err := o.s.Put(ctx, o.bucket, o.prefix+key, value, true)
	if !errors.Is(err, objstore.ErrExists) {
		return err == nil, err
	}
	// A refused conditional write is a claim lost only if the object is
	// there: S3 also answers 409 ConditionalRequestConflict to a write that
	// raced another and may have failed too, and a conflict code is not
	// proof that anybody holds the claim.
	if _, gerr := o.s.Get(ctx, o.bucket, o.prefix+key); gerr == nil {
		return false, nil
	} else if !errors.Is(gerr, objstore.ErrNotFound) {
		return false, gerr
	}
	return false, &apierr.Error{Cloud: "objstore", Service: "ledger", Action: "Claim", Code: "ClaimConflict",
		Message: "the conditional write was refused but no record is there; retry", Kind: apierr.RetryLater, Err: err}
}

func (o *objects) get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := o.s.Get(ctx, o.bucket, o.prefix+key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (o *objects) put(ctx context.Context, key string, value []byte) error {
	return o.s.Put(ctx, o.bucket, o.prefix+key, value, false)
}

func (o *objects) list(ctx context.Context, prefix string) ([]string, error) {
	objs, err := o.s.List(ctx, o.bucket, o.prefix+prefix)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(objs))
	for _, ob := range objs {
		if k, ok := strings.CutPrefix(ob.Key, o.prefix); ok {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (o *objects) delete(ctx context.Context, key string) error {
	return o.s.Delete(ctx, o.bucket, o.prefix+key)
}
