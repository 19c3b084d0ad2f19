//go:build !lambda.norpc

package ledger

import (
	"fmt"

	"github.com/backupflow/backupflow/pkg/objstore"
)

func openCOS(cfg objstore.COSConfig, bucket, prefix string) (*Ledger, error) {
	s, err := objstore.NewCOS(cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	return newObjects(s, "cos", bucket, prefix)
}
