// Package s3store is the object store on AWS S3, spoken over HTTP with
// pkg/sigv4. It registers s3:// with objstore.Openers and reads its settings
// (Settings) from the environment it is opened with.
package s3store
