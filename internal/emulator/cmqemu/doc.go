// Package cmqemu emulates a TDMQ-for-CMQ broker and its signed data-plane HTTP
// API, on an injected clock, with seeded faults and duplicate deliveries.
package cmqemu
