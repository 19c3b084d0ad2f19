// Package cosemu emulates the COS XML API for one account: object HEAD/GET/PUT/DELETE and bucket listing, every request signature-checked.
// It also checks presigned URLs in process for the SQL Server import emulator, without an HTTP round trip.
package cosemu
