// Package app wires a configuration into running parts: providers, queues,
// ledger, object store, notifier and the flow service every function uses.
package app
