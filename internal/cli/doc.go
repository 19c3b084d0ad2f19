// Package cli implements the backupflow operator command: the emulator, the
// local stack, one-shot invokes, backups, imports, status and benchmarks.
package cli
