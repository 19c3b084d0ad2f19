//go:build !crashtest

package flow

// crashPoint marks a place where a crash test may kill the process. In
// production builds it does nothing and compiles away; see crash_crashtest.go.
func crashPoint(string) {}
