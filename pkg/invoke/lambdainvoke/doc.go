// Package lambdainvoke runs an invoke.Handler on AWS Lambda (provided.al2023) over aws-lambda-go,
// and adapts an http.Handler to function URL, HTTP API (payload 2.0) and REST API (1.0) events.
package lambdainvoke
