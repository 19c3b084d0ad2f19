package scfinvoke

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke"
)

// WebAddr is where an SCF web function must listen.
const WebAddr = "0.0.0.0:9000"

// MaxWebBodyBytes is the platform's request body limit for web functions;
// larger bodies are refused before the handler reads them.
const MaxWebBodyBytes = 6 << 20

// shutdownGrace bounds how long in-flight requests may finish after SIGTERM.
const shutdownGrace = 5 * time.Second

// ServeWeb serves h as an SCF web function: plain HTTP on addr (WebAddr when
// empty). It returns nil after a graceful shutdown on SIGTERM or interrupt,
// or the error that stopped the server.
func ServeWeb(addr string, h http.Handler) error {
	if addr == "" {
		addr = WebAddr
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("scfinvoke: listen: %w", err)
	}
	// Platform facts read once at start; web functions get them in the process env.
	meta := invoke.Meta{
		Platform:     invoke.PlatformSCF,
		FunctionName: os.Getenv("SCF_FUNCTIONNAME"),
		Region:       os.Getenv("TENCENTCLOUD_REGION"),
	}
	return serveWeb(ctx, lis, h, meta)
}

// serveWeb serves until ctx is done, then shuts down gracefully.
func serveWeb(ctx context.Context, lis net.Listener, h http.Handler, meta invoke.Meta) error {
	srv := &http.Server{
		Handler:           webHandler(h, meta),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// The platform's own function timeout (up to 900 s) is the real bound.
		WriteTimeout:   15 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("scfinvoke: serve web: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("scfinvoke: shut down web server: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("scfinvoke: serve web: %w", err)
	}
	return nil
}

// webHandler caps the body and attaches invocation metadata; the platform
// names each request in the X-Scf-Request-Id header.
func webHandler(h http.Handler, meta invoke.Meta) http.Handler {
	return http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := meta
		m.RequestID = r.Header.Get("X-Scf-Request-Id")
		h.ServeHTTP(w, r.WithContext(invoke.WithMeta(r.Context(), m)))
	}), MaxWebBodyBytes)
}
