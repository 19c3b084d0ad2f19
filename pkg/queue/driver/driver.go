// Package driver is the contract queue drivers implement; applications use the
// portable queue.Queue, never a driver directly.
package driver

import (
	"context"
	"errors"
	"time"
)

// ErrInvalidReceipt is matched (errors.Is) by Delete errors whose receipt is
// unknown, stale (the message was received again since) or expired (its
// visibility timeout passed). The message may still be delivered again.
var ErrInvalidReceipt = errors.New("receipt is invalid or expired")

// Message is one delivery of a message.
type Message struct {
	ID       string // stable across deliveries of the same message
	Body     []byte
	Receipt  string // deletes this delivery; changes on every delivery
	Receives int    // delivery count, 1 on the first
}

// Queue is what a driver implements. The portable queue validates arguments
// before calling (body 1..MaxBodySize bytes of UTF-8, 0 <= delay <=
// MaxDelay, 1 <= max <= MaxBatch, wait >= 0) and wraps returned errors with
// the queue name, so drivers neither re-validate nor wrap. Drivers do not
// retry: they return the cloud's error (an *apierr.Error when the cloud
// answered) and let the caller decide. All methods must be safe for
// concurrent use. Receive must not retain its result slice.
type Queue interface {
	// Send enqueues body, visible after delay, and returns the message id.
	Send(ctx context.Context, body []byte, delay time.Duration) (string, error)
	// Receive returns up to max visible messages, waiting up to wait for the
	// first one. Nothing due is an empty result and a nil error.
	Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error)
	// Delete acknowledges one delivery by its receipt.
	Delete(ctx context.Context, receipt string) error
	// MaxDelay is the longest delay Send accepts.
	MaxDelay() time.Duration
	// MaxBatch is the most messages one Receive can return.
	MaxBatch() int
	// Close releases the driver's resources; it is called once.
	Close() error
}
