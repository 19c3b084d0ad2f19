// Package memqueue is the in-memory queue driver (mem://name): process-wide
// named queues on an injectable clock, with knobs to duplicate and reorder.
package memqueue
