//go:build scf

package main

import (
	"net/http"

	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
)

// serve runs the SCF web-function HTTP server on 0.0.0.0:9000.
func serve(h http.Handler) error { return scfinvoke.ServeWeb("0.0.0.0:9000", h) }
