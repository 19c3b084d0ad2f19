// Package reliability holds the tests that prove backupflow's promises under
// faults, duplicates, crashes, hostile input and secrets: the fault soak over
// the whole system against the emulator, the crash tests that kill a real
// function process mid-invocation, the size-limit table, the secret scans
// and the fuzz targets for decoders that have no home package of their own.
//
// The package has no production code; docs/reliability.md maps every fault
// to the test here (or elsewhere) that proves the behaviour.
package reliability
