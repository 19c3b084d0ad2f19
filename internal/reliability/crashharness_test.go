package reliability

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestExchangesRefuseATornRequest: a crash-soak instance killed while one
// of its workers is part-way through a request leaves the far side a body
// shorter than its Content-Length. The soak's front server forwarded the
// part that came, and the emulator filed it: an empty outcome record
// ("unexpected end of JSON input", TestCrashSoak under load). COS refuses
// such an upload, so the front must too.
func TestExchangesRefuseATornRequest(t *testing.T) {
	var forwarded atomic.Int32
	x := newExchanges()
	srv := httptest.NewServer(x.handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { forwarded.Add(1) }), "s"))
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Write([]byte("PUT /ledger/jobs/j1/outcome HTTP/1.1\r\nHost: x\r\nAuthorization: q-sign-algorithm=sha1&q-ak=a\r\n" +
		exchangeHeader + ": 42.7\r\nContent-Length: 100\r\n\r\n{\"jobId\":"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for end := time.Now().Add(10 * time.Second); x.kindOf(42, 7) == "" && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := x.kindOf(42, 7); got != "torn" {
		t.Errorf("exchange 42.7 recorded as %q; want torn", got)
	}
	if x.lastOf(42) != 7 {
		t.Errorf("last exchange of 42 is %d; a torn one still went out (want 7)", x.lastOf(42))
	}
	if n := forwarded.Load(); n != 0 {
		t.Errorf("a request cut short was forwarded %d times", n)
	}
	if w := x.writtenBy(42); len(w) != 0 {
		t.Errorf("a request cut short counted as a write: %v", w)
	}
}

// TestUnexcusedCopies: which repeated notifications the crash soak lets
// pass. It used to excuse a copy only when its sender was killed right
// after the notification's own exchange; with the drain's workers the
// kill is often another worker's exchange, so a legitimate resend failed
// the soak ("copy from exchange … was not followed by a kill").
func TestUnexcusedCopies(t *testing.T) {
	note := func(ex string) notification { return notification{exchange: ex} }
	tests := []struct {
		name     string
		job      string
		got      []notification
		killedIn map[int]int64
		writes   map[int][]string
		wantBad  []string
	}{
		{name: "one copy", job: "j1", got: []notification{note("42.107")}},
		{name: "killed right after the notification", job: "j1", got: []notification{note("42.107"), note("43.5")},
			killedIn: map[int]int64{42: 100}},
		{name: "another worker's exchange was the kill", job: "j1", got: []notification{note("42.107"), note("43.5")},
			killedIn: map[int]int64{42: 100}, writes: map[int][]string{42: {"/ledger/jobs/j1/outcome", "/ledger/jobs/j9/notified"}}},
		{name: "sender marked the job notified", job: "j1", got: []notification{note("42.107"), note("43.5")},
			killedIn: map[int]int64{42: 100}, writes: map[int][]string{42: {"/ledger/jobs/j1/notified"}}, wantBad: []string{"42.107"}},
		{name: "sender never killed", job: "j1", got: []notification{note("42.107"), note("43.5")},
			killedIn: map[int]int64{44: 0}, wantBad: []string{"42.107"}},
		{name: "sender killed in a later invocation", job: "j1", got: []notification{note("42.107"), note("43.5")},
			killedIn: map[int]int64{42: 200}, wantBad: []string{"42.107"}},
		{name: "summary marked sent", job: "run-1", got: []notification{note("42.9"), note("43.5")},
			killedIn: map[int]int64{42: 0}, writes: map[int][]string{42: {"/ledger/runs/run-1/summary-sent"}}, wantBad: []string{"42.9"}},
		{name: "three copies, the middle one unexplained", job: "j1", got: []notification{note("42.107"), note("43.5"), note("44.1")},
			killedIn: map[int]int64{42: 100}, wantBad: []string{"43.5"}},
		{name: "untagged copy", job: "j1", got: []notification{note(""), note("43.5")}, wantBad: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := unexcusedCopies(tt.job, tt.got, tt.killedIn, func(pid int) []string { return tt.writes[pid] })
			var got []string
			for _, b := range bad {
				got = append(got, b.exchange)
			}
			if len(got) != len(tt.wantBad) {
				t.Fatalf("unexcused %q; want %q", got, tt.wantBad)
			}
			for i := range got {
				if got[i] != tt.wantBad[i] {
					t.Fatalf("unexcused %q; want %q", got, tt.wantBad)
				}
			}
		})
	}
}
