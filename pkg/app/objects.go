package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/openurl"
)

// objects adapts the object store to the flow's port. The store is built on
// first use: a deployment that never imports needs no COS/S3 settings.
type objects struct {
	once  sync.Once
	open  func() (objstore.Store, error)
	store objstore.Store
	err   error
}

func (o *objects) get() (objstore.Store, error) {
	o.once.Do(func() { o.store, o.err = o.open() })
	return o.store, o.err
}

func (o *objects) Presign(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	s, err := o.get()
	if err != nil {
		return "", err
	}
	return s.Presign(ctx, bucket, key, ttl)
}

func (o *objects) Stat(ctx context.Context, bucket, key string) (flow.ObjectInfo, error) {
	s, err := o.get()
	if err != nil {
		return flow.ObjectInfo{}, err
	}
	ob, err := s.Head(ctx, bucket, key)
	if err != nil {
		return flow.ObjectInfo{}, err
	}
	return flow.ObjectInfo{ETag: ob.ETag, VersionID: ob.VersionID, Size: ob.Size}, nil
}

func (o *objects) CheckBackup(ctx context.Context, bucket, key string) error {
	s, err := o.get()
	if err != nil {
		return err
	}
	magic, err := s.ReadMagic(ctx, bucket, key)
	if err != nil {
		return err
	}
	if err := objstore.CheckBackupMagic(magic); err != nil {
		return apierr.Invalid("%s/%s: %v", bucket, key, err)
	}
	return nil
}

// newObjects opens the object store BACKUPFLOW_OBJECT_STORE names (cos or
// s3) on first use, through its driver's opener and settings.
func newObjects(cfg config.Config, env openurl.Env) (*objects, error) {
	switch cfg.ObjectStore {
	case "cos", "s3":
		return &objects{open: func() (objstore.Store, error) {
			// Opening a store does no I/O, so it needs no caller's context.
			s, err := objstore.Open(context.Background(), cfg.ObjectStore+"://", env)
			if err != nil {
				return nil, fmt.Errorf("BACKUPFLOW_OBJECT_STORE: %w", err)
			}
			return s, nil
		}}, nil
	}
	return nil, fmt.Errorf("BACKUPFLOW_OBJECT_STORE must be cos or s3")
}
