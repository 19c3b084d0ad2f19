// Package function turns each deployed function's trigger events into flow
// calls: the handlers behind create-backup, start-migration and poll-status.
package function
