// Package ledger is the small durable store behind "exactly one outcome per job": claims, outcome markers,
// run manifests and chatops dedupe records, with create-if-absent as its one atomic primitive, over mem://, cos:// (cosledger) and s3:// (s3ledger), opened through Openers.
package ledger
