package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/local"
	"github.com/backupflow/backupflow/pkg/flow"
)

// TestLocalStackServesTheReport: after a night in the running local stack,
// GET /report at its HTTP port returns, over real HTTP, the very page
// `backupflow report --html` writes from the stack's ledger, for the latest
// run and for ?run=ID; an unknown run is 404, a malformed one 400, and
// anything but GET 405.
func TestLocalStackServesTheReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a night in real time")
	}
	s, err := local.Start(context.Background(), local.Options{Serverless: "../../serverless.yml", Dir: t.TempDir(),
		ChatListen: "127.0.0.1:0", Stdout: io.Discard, View: "lines", JobDuration: time.Second,
		Tick: 500 * time.Millisecond, Scan: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Begin(ctx)
	defer func() { cancel(); _ = s.Close(10 * time.Second) }()
	rep, err := s.FireTimer("nightly")
	if err != nil {
		t.Fatal(err)
	}
	chat := s.Functions[local.ChatFunction]
	waitFor(t, 90*time.Second, "every job of the night to end", func() bool {
		v, err := chat.App.Service.RunView(ctx, rep.Run)
		if err != nil {
			return false
		}
		for _, j := range v.Jobs {
			if !slices.Contains([]flow.Result{flow.Succeeded, flow.Failed, flow.Stuck, flow.DeadLettered}, flow.Result(j.State)) {
				return false
			}
		}
		return len(v.Jobs) == len(rep.Jobs)
	})

	file := filepath.Join(t.TempDir(), "report.html")
	if code, out, errs := run(t, lookup(chat.Env), "report", "--html", file); code != ExitOK {
		t.Fatalf("report --html over the stack's ledger = %d\n%s%s", code, out, errs)
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(barRE.FindAll(want, -1)); n != len(rep.Jobs) {
		t.Fatalf("report --html drew %d bars; the night has %d jobs", n, len(rep.Jobs))
	}
	get := func(method, path string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, s.ChatURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b), resp.Header
	}
	for _, path := range []string{"/report", "/report?run=" + rep.Run} {
		code, body, h := get(http.MethodGet, path)
		if code != http.StatusOK || body != string(want) {
			t.Errorf("GET %s = %d (%d bytes); want 200 and the %d bytes report --html wrote", path, code, len(body), len(want))
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/report?run=nightly-19990101T0100Z", http.StatusNotFound},
		{http.MethodGet, "/report?run=../../chat/x", http.StatusBadRequest},
		{http.MethodPost, "/report", http.StatusMethodNotAllowed},
	} {
		if code, body, _ := get(tc.method, tc.path); code != tc.want {
			t.Errorf("%s %s = %d %q; want %d", tc.method, tc.path, code, body, tc.want)
		}
	}
}
