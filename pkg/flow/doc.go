// Package flow drives a job from its cause to exactly one outcome: the nightly
// fan-out, the upload-triggered import, the create and poll steps, retries by
// error kind, dead-lettering and notifications. Functions keep no state; it
// travels in job messages and in a small ledger of claims.
package flow
