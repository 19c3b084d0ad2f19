//go:build !scf

package main

import (
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
)

// start runs the AWS Lambda runtime loop (provided.al2023).
func start(h invoke.Handler) error {
	lambdainvoke.Start(h)
	return nil
}
