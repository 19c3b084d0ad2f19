// Package tencentemu emulates the Tencent Cloud API 3.0 endpoints backupflow calls
// (cdb, sqlserver, mongodb, tdmq, tag), wire-faithfully enough for the official SDK.
package tencentemu
