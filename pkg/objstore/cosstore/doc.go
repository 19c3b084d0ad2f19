// Package cosstore is the object store on Tencent COS (cos-go-sdk-v5). It
// registers cos:// with objstore.Openers and reads its settings (Settings)
// from the environment it is opened with.
package cosstore
