//go:build lambda.norpc

package ledger

import (
	"context"
	"errors"

	"github.com/backupflow/backupflow/pkg/objstore"
)

// Lambda builds leave the COS SDK out; use an s3:// ledger there.
func openCOS(context.Context, objstore.COSConfig, string, string) (*Ledger, error) {
	return nil, errors.New("ledger: cos:// is not built into this Lambda binary; use s3://bucket/prefix")
}
