package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// store is the part of objstore.COS and objstore.S3 the flows use.
type store interface {
	Presign(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
	Head(ctx context.Context, bucket, key string) (objstore.Object, error)
	ReadMagic(ctx context.Context, bucket, key string) ([]byte, error)
}

// objects adapts the object store to the flow's port. The store is built on
// first use: a deployment that never imports needs no COS/S3 settings.
type objects struct {
	once  sync.Once
	open  func() (store, error)
	store store
	err   error
}

func (o *objects) get() (store, error) {
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

// ledgerOptions gives the ledger the same object-store settings as imports.
func ledgerOptions(cfg config.Config, creds tencent.Credentials, o Options) *ledger.Options {
	lo := &ledger.Options{Now: o.Now}
	if strings.HasPrefix(cfg.Ledger, "cos://") {
		if creds.SecretID == "" {
			creds, _ = tencent.CredentialsFromEnv(o.Getenv)
		}
		lo.COS = &objstore.COSConfig{Credentials: creds, Region: cfg.TencentRegion, Endpoint: cfg.COSEndpoint,
			Now: o.Now, HTTPClient: o.HTTPClient}
	}
	if strings.HasPrefix(cfg.Ledger, "s3://") {
		s3 := s3Config(cfg, o)
		lo.S3 = &s3
	}
	return lo
}

// newObjects picks COS (Tencent) or S3 (AWS) by BACKUPFLOW_OBJECT_STORE.
func newObjects(cfg config.Config, creds tencent.Credentials, o Options) (*objects, error) {
	switch cfg.ObjectStore {
	case "cos":
		return &objects{open: func() (store, error) {
			if creds.SecretID == "" {
				c, err := tencent.CredentialsFromEnv(o.Getenv)
				if err != nil {
					return nil, err
				}
				creds = c
			}
			return openCOS(objstore.COSConfig{Credentials: creds, Region: cfg.TencentRegion,
				Endpoint: cfg.COSEndpoint, Now: o.Now, HTTPClient: o.HTTPClient})
		}}, nil
	case "s3":
		return &objects{open: func() (store, error) {
			return openS3(s3Config(cfg, o))
		}}, nil
	}
	return nil, fmt.Errorf("BACKUPFLOW_OBJECT_STORE must be cos or s3")
}

func s3Config(cfg config.Config, o Options) objstore.S3Config {
	return objstore.S3Config{Region: cfg.AWSRegion, Endpoint: cfg.AWSEndpoint,
		AccessKeyID: o.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: secret.String(o.Getenv("AWS_SECRET_ACCESS_KEY")),
		SessionToken: secret.String(o.Getenv("AWS_SESSION_TOKEN")), HTTPClient: o.HTTPClient}
}
