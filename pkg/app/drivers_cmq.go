//go:build !lambda.norpc

package app

import _ "github.com/backupflow/backupflow/pkg/queue/cmqqueue" // cmq:// queues (Tencent)
