//go:build scf

package main

import (
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
)

// start serves h on the SCF Go1 runtime.
func start(h invoke.Handler) error { return scfinvoke.Start(h) }
