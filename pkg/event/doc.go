// Package event decodes every trigger payload the functions accept (SCF timer, COS, CMQ; AWS
// EventBridge schedule, S3, SQS) into platform-neutral records, one bad record never failing a batch.
package event
