// Package ledger is the small durable store behind "exactly one outcome per job": claims, outcome markers,
// run manifests and chatops dedupe records, with create-if-absent as its one atomic primitive, over mem://, cos:// and s3://.
package ledger
