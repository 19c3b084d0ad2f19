//go:build !lambda.norpc

package ledger

import (
	"context"
	"fmt"

	"github.com/backupflow/backupflow/pkg/objstore"
)

func openCOS(ctx context.Context, cfg objstore.COSConfig, bucket, prefix string) (*Ledger, error) {
	s, err := objstore.NewCOS(cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	l, err := newObjects(s, "cos", bucket, prefix)
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
		return nil, fmt.Errorf("ledger: open cos://%s: checking the bucket's versioning: %w", bucket, err)
	}
	if status != "" {
		return nil, fmt.Errorf("ledger: open cos://%s: the bucket has versioning %s, where COS does not promise "+
			"x-cos-forbid-overwrite, so ledger claims could be won twice; give the ledger its own bucket without "+
			"versioning (BACKUPFLOW_LEDGER=cos://<bucket>-<appid>/backupflow-ledger)", bucket, status)
	}
	return l, nil
}
