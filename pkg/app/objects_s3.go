//go:build !scf

package app

import "github.com/backupflow/backupflow/pkg/objstore"

func openS3(cfg objstore.S3Config) (store, error) { return objstore.NewS3(cfg) }
