// Package simulate runs a night (or several) of nightly backups for a fleet
// of thousands of instances through the real flow code, queue, ledger and
// provider adapters, against the emulator's model on a virtual clock, and
// measures what a user pays for: API calls, invocations, detection latency
// and the fan-out's makespan. The same run drives two baseline strategies
// (a fixed-interval poller and a periodic re-scan) over the same model, so
// the figures compare like for like.
//
// Ours runs the deployed functions: create-backup and poll-status come
// from the function table and are invoked with their timer events, so the
// drain (pacer, headroom, batch size) is the deployed one. Nothing waits in
// real time: a discrete-event loop advances the clock to the next due
// queue message (or baseline timer) and invokes the drain; the pacer's
// waits move the clock. HTTP
// calls go through an in-process http.RoundTripper straight into the
// emulator's handler, so the SDK code path (signing, encoding, decoding,
// error classification) is the one production runs; only the socket is
// skipped.
package simulate
