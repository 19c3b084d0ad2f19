// Package queuetest is the conformance suite every queue driver passes.
package queuetest
