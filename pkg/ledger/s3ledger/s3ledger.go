// Package s3ledger registers s3://<bucket>/<prefix> with ledger.Openers: a
// ledger kept as objects in an S3 bucket, opened with s3store's settings
// from the environment.
package s3ledger

import (
	"context"
	"net/url"

	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/objstore/s3store"
	"github.com/backupflow/backupflow/pkg/openurl"
)

func init() {
	ledger.Openers.Register("s3", openURL)
}

func openURL(_ context.Context, u *url.URL, env openurl.Env) (*ledger.Ledger, error) {
	cfg, err := s3store.ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	s, err := s3store.New(cfg)
	if err != nil {
		return nil, err
	}
	return ledger.NewObjects(s, "s3", u.Host, u.Path)
}
