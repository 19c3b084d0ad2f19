package simulate

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/internal/emulator/fault"
)

// scripted answers its requests in order: true drops the connection, false
// answers 200 with the request's method.
type scripted struct {
	drops []bool
	n     int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	drop := s.n < len(s.drops) && s.drops[s.n]
	s.n++
	if drop {
		fault.DropConnection(w)
		return
	}
	_, _ = io.WriteString(w, r.Method)
}

// TestInProcessActsAsTheSocketTransport: for each script of dropped
// answers and sequence of requests, the in-process transport gives the
// caller what net/http's Transport over a loopback socket gives, and the
// handler sees as many requests — a dropped GET on a reused connection is
// sent again, a POST or a fresh connection's GET is not. (Without the
// retry, the 2,000-instance report's Huawei figures changed.)
func TestInProcessActsAsTheSocketTransport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods string // one letter a request: G(ET), P(OST)
		drops   []bool // by handler call
	}{
		{"fresh GET dropped", "GG", []bool{true}},
		{"reused GET dropped once", "GGG", []bool{false, true}},
		{"reused GET dropped twice", "GGG", []bool{false, true, true}},
		{"reused POST dropped", "GPG", []bool{false, true}},
		{"after a drop the connection is new", "GGGG", []bool{false, true, true, true}},
		{"no drops", "GPGP", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(rt func(h http.Handler) (http.RoundTripper, func())) (string, int) {
				h := &scripted{drops: tc.drops}
				tr, stop := rt(h)
				defer stop()
				c := &http.Client{Transport: tr}
				var got []string
				for _, m := range tc.methods {
					method := map[rune]string{'G': http.MethodGet, 'P': http.MethodPost}[m]
					req, err := http.NewRequestWithContext(context.Background(), method, "http://emulator.local/x", strings.NewReader("body"))
					if err != nil {
						t.Fatal(err)
					}
					resp, err := c.Do(req)
					if err != nil {
						got = append(got, "error")
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					got = append(got, string(b))
				}
				return strings.Join(got, ","), h.n
			}
			socket := func(h http.Handler) (http.RoundTripper, func()) {
				srv := httptest.NewServer(h)
				tr := &http.Transport{}
				addr := srv.Listener.Addr().String()
				tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				}
				return tr, func() { tr.CloseIdleConnections(); srv.Close() }
			}
			inproc := func(h http.Handler) (http.RoundTripper, func()) { return newInProcess(h), func() {} }
			wantAnswers, wantCalls := run(socket)
			gotAnswers, gotCalls := run(inproc)
			if gotAnswers != wantAnswers || gotCalls != wantCalls {
				t.Errorf("in process: answers %s after %d handler calls; over a socket: %s after %d", gotAnswers, gotCalls, wantAnswers, wantCalls)
			}
		})
	}
}
