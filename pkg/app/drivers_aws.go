//go:build !scf

package app

// AWS's drivers: SCF builds leave them out (docs/architecture.md,
// "Builds"), so an SCF binary opens no sqs:// or s3:// and says so.
import (
	_ "github.com/backupflow/backupflow/pkg/ledger/s3ledger"  // s3:// ledgers
	_ "github.com/backupflow/backupflow/pkg/objstore/s3store" // s3:// object store
	_ "github.com/backupflow/backupflow/pkg/queue/sqsqueue"   // sqs:// queues
)
