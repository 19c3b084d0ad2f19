//go:build !scf

package main

import (
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
)

// start serves h on AWS Lambda; it does not return.
func start(h invoke.Handler) error {
	lambdainvoke.Start(h)
	return nil
}
