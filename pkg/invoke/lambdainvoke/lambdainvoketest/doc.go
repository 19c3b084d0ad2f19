// Package lambdainvoketest is a fake AWS Lambda Runtime API: point a function binary's
// AWS_LAMBDA_RUNTIME_API at it and invoke the binary as Lambda would, without AWS.
package lambdainvoketest
