// Package objstore is what the import flow needs from an object store: presign, head, magic-byte check,
// and the small get/put-if-absent/list/delete set the ledger builds on, over COS (cos-go-sdk-v5) and S3 (aws-sdk-go-v2).
package objstore
