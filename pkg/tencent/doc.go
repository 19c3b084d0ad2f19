// Package tencent calls Tencent Cloud API 3.0 actions through the official SDK's
// generic client, with typed request/response structs owned by the adapters.
package tencent
