// Package sqsqueue is the Amazon SQS queue driver (sqs://name or
// sqs://host/account/name), speaking SQS's JSON protocol over pkg/sigv4.
package sqsqueue
