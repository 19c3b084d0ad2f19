//go:build scf

package ledger

import (
	"errors"

	"github.com/backupflow/backupflow/pkg/objstore"
)

// SCF builds leave the AWS SDK out; use a cos:// ledger there.
func openS3(objstore.S3Config, string, string) (*Ledger, error) {
	return nil, errors.New("ledger: s3:// is not built into this SCF binary; use cos://bucket/prefix")
}
