// Package tcmysql is the provider adapter for TencentDB for MySQL (cdb
// 2017-03-20): manual backups, their status, lookup by alias, and discovery by tag.
package tcmysql
