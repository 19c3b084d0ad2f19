// Package queuetest is the conformance suite every queue driver passes, plus a
// virtual clock for harnesses whose driver and broker take an injected clock.
package queuetest
