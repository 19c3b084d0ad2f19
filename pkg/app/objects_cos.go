//go:build !lambda.norpc

package app

import "github.com/backupflow/backupflow/pkg/objstore"

func openCOS(cfg objstore.COSConfig) (store, error) { return objstore.NewCOS(cfg) }
