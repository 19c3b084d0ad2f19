// Package apierr classifies cloud API errors into the three kinds the flows act on.
// Every Tencent and Huawei error code backupflow knows lives in one table here.
package apierr
