//go:build !scf

package app

import _ "github.com/backupflow/backupflow/pkg/queue/sqsqueue" // sqs:// queues (AWS)
