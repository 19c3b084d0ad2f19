// Package cron parses SCF timer-trigger cron expressions (7 fields with
// seconds and year, or the legacy 5 fields) and computes when they fire next.
package cron
