// Package tcsqlserver is the provider adapter for TencentDB for SQL Server
// (sqlserver 2018-03-28): manual backups, cold-backup imports from COS,
// discovery by tag, and, for retention, the backup listing and the removal
// of manual backups (RemoveBackups).
package tcsqlserver
