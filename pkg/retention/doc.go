// Package retention decides which backups backupflow may expire. It is a
// pure rule engine: given what the ledger says backupflow made and what the
// cloud lists for an instance, it returns, for every listed backup, whether
// to delete it and why. It calls nothing; the caller lists, records and
// deletes.
//
// A backup is a candidate only when both sides agree it is backupflow's:
// the ledger holds the job that made it (on that instance, with a recorded
// success) and the cloud's record carries that job's deterministic name
// (job.Name) on that instance. Automatic backups, backups made by hand or by
// another tool, and names that merely look like backupflow's are kept.
//
// Floors no rule overrides: the newest successful backupflow backup of an
// instance is kept; nothing is deleted on an instance while a newer backup
// is not yet confirmed successful; a run deletes at most a configured share
// of the backupflow backups it looked at (Cap).
package retention
