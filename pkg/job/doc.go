// Package job defines the versioned message every function hands to the next
// through the queue, and how job ids and backup names derive from a job's cause.
package job
