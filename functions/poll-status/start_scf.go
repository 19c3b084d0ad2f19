//go:build scf

package main

import (
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
)

// start serves the SCF Go1 runtime protocol on $_LAMBDA_SERVER_PORT.
func start(h invoke.Handler) error { return scfinvoke.Start(h) }
