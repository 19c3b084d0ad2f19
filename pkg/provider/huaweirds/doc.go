// Package huaweirds backs up Huawei Cloud RDS v3 instances through the official Go SDK
// and discovers them by tag; it implements provider.Provider and provider.Discoverer.
package huaweirds
