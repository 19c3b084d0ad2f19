//go:build !lambda.norpc

package app

// Tencent's drivers: Lambda builds leave them out (docs/architecture.md,
// "Builds"), so a Lambda binary opens no cmq:// or cos:// and says so.
import (
	_ "github.com/backupflow/backupflow/pkg/ledger/cosledger"  // cos:// ledgers
	_ "github.com/backupflow/backupflow/pkg/objstore/cosstore" // cos:// object store
	_ "github.com/backupflow/backupflow/pkg/queue/cmqqueue"    // cmq:// queues
)
