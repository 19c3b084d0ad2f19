// Package sqsqueue is the Amazon SQS queue driver (sqs://name or
// sqs://host/account/name), built on aws-sdk-go-v2's sqs client.
package sqsqueue
