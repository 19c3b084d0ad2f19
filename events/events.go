// Package events holds the sample trigger payloads, events/<function>/<platform>-<trigger>[-<case>].json,
// embedded so that tests, the fuzz seeds and the local tools replay exactly the same files.
// outcomes.json, beside them, writes down what invoking each sample against a fresh emulator
// ends in (invoke's exit code and a line of its output); internal/cli TestInvokeEverySample
// runs every sample to it, and a sample without an entry fails that test.
package events

import "embed"

// FS holds every sample payload, at paths like "create-backup/scf-timer.json".
//
//go:embed */*.json
var FS embed.FS
