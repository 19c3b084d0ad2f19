// Package events holds the sample trigger payloads, events/<function>/<platform>-<trigger>[-<case>].json,
// embedded so that tests, the fuzz seeds and the local tools replay exactly the same files.
package events

import "embed"

// FS holds every sample payload, at paths like "create-backup/scf-timer.json".
//
//go:embed */*.json
var FS embed.FS
