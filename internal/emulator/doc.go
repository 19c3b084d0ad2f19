// Package emulator serves every cloud API backupflow calls from one local
// HTTP listener: Tencent API 3.0, Huawei RDS v3, TDMQ for CMQ, SQS and COS.
package emulator
