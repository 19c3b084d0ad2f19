//go:build !scf

package ledger

import (
	"fmt"

	"github.com/backupflow/backupflow/pkg/objstore"
)

func openS3(cfg objstore.S3Config, bucket, prefix string) (*Ledger, error) {
	s, err := objstore.NewS3(cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	return newObjects(s, "s3", bucket, prefix)
}
