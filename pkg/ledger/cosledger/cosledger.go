// Package cosledger registers cos://<bucket>/<prefix> with ledger.Openers:
// a ledger kept as objects in a COS bucket, opened with cosstore's settings
// from the environment.
package cosledger

import (
	"context"
	"fmt"
	"net/url"

	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/objstore/cosstore"
	"github.com/backupflow/backupflow/pkg/openurl"
)

func init() {
	ledger.Openers.Register("cos", openURL)
}

func openURL(ctx context.Context, u *url.URL, env openurl.Env) (*ledger.Ledger, error) {
	cfg, err := cosstore.ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	s, err := cosstore.New(cfg)
	if err != nil {
		return nil, err
	}
	return Open(ctx, s, u.Host, u.Path)
}

// Open keeps a ledger in bucket under prefix of the COS store s. It reads
// the bucket's versioning and refuses a versioned bucket.
func Open(ctx context.Context, s *cosstore.Store, bucket, prefix string) (*ledger.Ledger, error) {
	l, err := ledger.NewObjects(s, "cos", bucket, prefix)
	if err != nil {
		return nil, err
	}
	// Claim rests on x-cos-forbid-overwrite, which COS documents as refusing
	// a PUT that would overwrite an object. On a bucket with versioning
	// (enabled, or suspended with versions kept) a PUT adds a version and
	// COS does not promise the header holds there, so two writers could both
	// win one claim. Refuse such a bucket rather than run two jobs.
	// docs/reliability.md ("Claims") has the sources.
	status, err := s.Versioning(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("cos://%s: checking the bucket's versioning: %w", bucket, err)
	}
	if status != "" {
		return nil, fmt.Errorf("cos://%s: the bucket has versioning %s, where COS does not promise "+
			"x-cos-forbid-overwrite, so ledger claims could be won twice; give the ledger its own bucket without "+
			"versioning (BACKUPFLOW_LEDGER=cos://<bucket>-<appid>/backupflow-ledger)", bucket, status)
	}
	return l, nil
}
