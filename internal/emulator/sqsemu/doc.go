// Package sqsemu emulates the slice of Amazon SQS that backupflow uses, over the
// AWS JSON 1.0 protocol aws-sdk-go-v2 speaks, on an injected clock.
package sqsemu
