// Package objstoretest provides a small in-memory S3 endpoint for tests: path-style object HEAD/GET/PUT/DELETE,
// If-None-Match: * and paged ListObjectsV2, recording request shapes. It refuses unsigned requests and, after
// CheckSignatures, recomputes every signature with aws-sdk-go-v2's own signer.
package objstoretest
