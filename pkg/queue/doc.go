// Package queue is the portable message queue the flows hand jobs through: one
// concrete *Queue in front, drivers (memqueue, cmqqueue, sqsqueue) behind.
//
// # Opening
//
// Queues are opened by URL through the queue registry (pkg/openurl); each
// driver registers its scheme when imported and reads its own settings
// from the environment it is given:
//
//	import _ "github.com/backupflow/backupflow/pkg/queue/memqueue" // mem://name
//	import _ "github.com/backupflow/backupflow/pkg/queue/cmqqueue" // cmq://name?region=ap-guangzhou
//	import _ "github.com/backupflow/backupflow/pkg/queue/sqsqueue" // sqs://name-or-url?region=us-east-1
//
//	q, err := queue.Open(ctx, "mem://jobs", openurl.Env{})
//
// # Delivery
//
// Delivery is at least once and unordered. A received message stays hidden
// for the queue's visibility timeout; a message not deleted in time is
// delivered again with Receives incremented. Handlers must be idempotent.
// Send takes a delay up to MaxDelay; longer waits are the caller's to chain.
//
// # Errors
//
// Errors are wrapped once with the queue name. Input rejected before any call
// (oversize or empty body, delay out of range) matches apierr.ErrInvalidInput;
// cloud errors carry an *apierr.Error whose Kind says whether to retry; a
// stale receipt matches ErrInvalidReceipt.
package queue
