//go:build crashtest

package app

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Crash-soak hooks, compiled only with -tags crashtest (internal/reliability
// builds such binaries). They read the process environment at start.
const (
	// CrashAfterEnv is the number of HTTP exchanges after which the process
	// kills itself with SIGKILL: 0 dies before its first request, N dies the
	// moment the response to its N-th request arrives, before the caller
	// sees it. Every external effect (cloud call, ledger read or write,
	// queue send, receive or delete, notification) is one exchange, so a
	// budget names a point between two effects.
	CrashAfterEnv = "BACKUPFLOW_CRASH_AFTER"
	// CrashClockEnv names a file holding how many nanoseconds the test's
	// clock runs ahead of the wall clock; the handler's clock reads it on
	// every call, so processes and emulator share one virtual time.
	CrashClockEnv = "BACKUPFLOW_CRASH_CLOCK"
	// CrashExchangeHeader tags every request with "<pid>.<n>", so the test's
	// servers know which exchange a kill followed.
	CrashExchangeHeader = "X-Crashtest-Exchange"
)

func init() {
	v, ok := os.LookupEnv(CrashAfterEnv)
	if !ok {
		return
	}
	budget, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "crashtest: %s=%q is not a number\n", CrashAfterEnv, v)
		os.Exit(2)
	}
	http.DefaultTransport = &killer{next: http.DefaultTransport, budget: budget, pid: os.Getpid()}
}

// killer counts the process's HTTP exchanges and kills the process at its
// budget. A negative budget only counts and tags.
type killer struct {
	next   http.RoundTripper
	budget int64
	pid    int
	n      atomic.Int64
}

func (k *killer) RoundTrip(r *http.Request) (*http.Response, error) {
	n := k.n.Add(1)
	if k.budget == 0 && n == 1 {
		die(0)
	}
	if k.budget > 0 && n > k.budget {
		// A drain's workers make exchanges at once: one numbered past the
		// budget must not go out while the budget's own is in flight, or
		// the far side sees more than the kill allowed (the crash soak
		// checks it saw exactly up to the budget). It waits for the kill.
		select {}
	}
	r = r.Clone(r.Context())
	r.Header.Set(CrashExchangeHeader, strconv.Itoa(k.pid)+"."+strconv.FormatInt(n, 10))
	resp, err := k.next.RoundTrip(r)
	if n == k.budget {
		die(n)
	}
	return resp, err
}

func die(n int64) {
	fmt.Fprintf(os.Stderr, "crashtest: killed after exchange %d\n", n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

func crashClock() func() time.Time {
	path, ok := os.LookupEnv(CrashClockEnv)
	if !ok {
		return nil
	}
	return func() time.Time {
		raw, err := os.ReadFile(path)
		if err != nil {
			panic("crashtest: clock file: " + err.Error())
		}
		off, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			panic("crashtest: clock file holds " + strconv.Quote(string(raw)))
		}
		return time.Now().Add(time.Duration(off))
	}
}
