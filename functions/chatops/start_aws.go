//go:build !scf

package main

import (
	"net/http"

	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
)

// serve adapts function-URL / HTTP API events to the handler.
func serve(h http.Handler) error {
	lambdainvoke.Start(lambdainvoke.HTTP(h))
	return nil
}
