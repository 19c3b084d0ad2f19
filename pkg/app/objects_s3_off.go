//go:build scf

package app

import (
	"errors"

	"github.com/backupflow/backupflow/pkg/objstore"
)

// SCF builds leave the AWS SDK out (docs/architecture.md, "Builds").
func openS3(objstore.S3Config) (store, error) {
	return nil, errors.New("BACKUPFLOW_OBJECT_STORE=s3 is not built into this SCF binary; use cos")
}
