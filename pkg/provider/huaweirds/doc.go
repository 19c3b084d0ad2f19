// Package huaweirds backs up Huawei Cloud RDS v3 instances and discovers them by
// tag; it implements provider.Provider and provider.Discoverer. It calls the four
// REST operations it needs over net/http with its own SDK-HMAC-SHA256 signer and
// typed structs: the official SDK was most of a fresh clone's module download
// (docs/benchmarks.md §3). interop/ holds the SDK and proves the two agree.
package huaweirds
