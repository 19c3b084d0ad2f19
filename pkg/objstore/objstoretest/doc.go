// Package objstoretest provides a small in-memory S3 endpoint for tests: path-style object HEAD/GET/PUT/DELETE,
// If-None-Match: * and ListObjectsV2, recording request shapes; it checks that requests are SigV4-signed, not the signature.
package objstoretest
