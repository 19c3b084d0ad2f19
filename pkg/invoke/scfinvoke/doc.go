// Package scfinvoke runs an invoke.Handler on Tencent SCF: the Go1 runtime's net/rpc (gob)
// protocol on $_LAMBDA_SERVER_PORT, and the web-function form (plain HTTP on 0.0.0.0:9000).
package scfinvoke
