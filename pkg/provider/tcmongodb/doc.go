// Package tcmongodb is the provider adapter for TencentDB for MongoDB
// (mongodb 2019-07-25): manual backups, their status, lookup by remark, and discovery by tag.
package tcmongodb
