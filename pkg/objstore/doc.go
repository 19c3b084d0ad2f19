// Package objstore is what the import flow needs from an object store: presign, head, magic-byte check,
// and the small get/put-if-absent/list/delete set the ledger builds on (Store). It names no cloud: the
// drivers cosstore (cos-go-sdk-v5) and s3store (aws-sdk-go-v2) register cos:// and s3:// with Openers.
package objstore
