// Package tcsqlserver is the provider adapter for TencentDB for SQL Server
// (sqlserver 2018-03-28): manual backups, cold-backup imports from COS, and discovery by tag.
package tcsqlserver
