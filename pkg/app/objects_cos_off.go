//go:build lambda.norpc

package app

import (
	"errors"

	"github.com/backupflow/backupflow/pkg/objstore"
)

// Lambda builds leave the COS SDK out (docs/architecture.md, "Builds").
func openCOS(objstore.COSConfig) (store, error) {
	return nil, errors.New("BACKUPFLOW_OBJECT_STORE=cos is not built into this Lambda binary; use s3")
}
