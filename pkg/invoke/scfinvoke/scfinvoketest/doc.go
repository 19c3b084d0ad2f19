// Package scfinvoketest is the platform side of the SCF Go1 protocol: it
// starts a function binary as SCF does (_LAMBDA_SERVER_PORT), waits for
// Function.Ping and calls Function.Invoke over net/rpc with the
// per-invocation environment, so tests and tools drive a function exactly
// as SCF would, without SCF. It is the counterpart of
// lambdainvoke/lambdainvoketest.
package scfinvoketest
