// Package fault decides which requests the emulator breaks and how, so tests
// and soak runs can reproduce a given mix of failures from a seed.
package fault

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Kind is one way a request can fail.
type Kind int

const (
	None          Kind = iota
	InternalError      // the API answers with its internal-error code (HTTP 200 for Tencent)
	ServerError        // HTTP 5xx from a gateway, body not the API's
	Drop               // the connection is closed without an answer
	Slow               // the answer is delayed by SlowDelay, then served normally
	Throttle           // the API's throttling error
	Busy               // the product's instance-busy error (create actions only)
	// Null answers HTTP 200 with the body `null`, which a broken gateway or
	// proxy has been seen to return; the request may have run.
	Null
	// GatewayThrottle is a gateway's HTTP 429 with a non-API body: the
	// request was refused before it reached the API.
	GatewayThrottle
	// GatewayBadGateway is a gateway's HTTP 502 with a non-API body: the
	// request may have reached the API.
	GatewayBadGateway
)

var names = map[Kind]string{None: "none", InternalError: "internal", ServerError: "5xx",
	Drop: "drop", Slow: "slow", Throttle: "throttle", Busy: "busy", Null: "null",
	GatewayThrottle: "429", GatewayBadGateway: "502"}

func (k Kind) String() string { return names[k] }

// All is every fault kind, the default mix.
var All = []Kind{InternalError, ServerError, Drop, Slow, Throttle, Busy}

// Injector picks faults. A nil *Injector injects nothing. Safe for concurrent use.
type Injector struct {
	mu        sync.Mutex
	rng       *rand.Rand
	rate      float64
	kinds     []Kind
	forced    []Kind
	SlowDelay time.Duration
	counts    map[Kind]int
}

// New returns an injector that breaks a share rate (0..1) of requests, choosing
// uniformly among kinds (All when empty), reproducibly from seed.
func New(rate float64, seed uint64, kinds ...Kind) *Injector {
	if len(kinds) == 0 {
		kinds = All
	}
	return &Injector{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), rate: rate,
		kinds: kinds, SlowDelay: 2 * time.Second, counts: map[Kind]int{}}
}

// Force makes the next calls to Next return these kinds, in order, before
// random faults resume. Tests use it to script exact failures.
func (i *Injector) Force(kinds ...Kind) {
	if i == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.forced = append(i.forced, kinds...)
}

// SetRate changes the random fault rate.
func (i *Injector) SetRate(rate float64) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.rate = rate
	i.mu.Unlock()
}

// Next decides the fault for one request. create says whether the request
// is a job-creating action (only those can be Busy).
func (i *Injector) Next(create bool) Kind {
	if i == nil {
		return None
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	k := None
	switch {
	case len(i.forced) > 0:
		k = i.forced[0]
		i.forced = i.forced[1:]
	case i.rate > 0 && i.rng.Float64() < i.rate:
		k = i.kinds[i.rng.IntN(len(i.kinds))]
	}
	if k == Busy && !create {
		k = InternalError
	}
	if k != None {
		i.counts[k]++
	}
	return k
}

// Counts reports how many faults of each kind were injected.
func (i *Injector) Counts() map[Kind]int {
	out := map[Kind]int{}
	if i == nil {
		return out
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for k, v := range i.counts {
		out[k] = v
	}
	return out
}

// DropConnection closes the client's connection without an HTTP answer, the
// way a crashed gateway does. It falls back to a bare 502 when the writer
// cannot be hijacked (HTTP/2, httptest recorders).
func DropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	http.Error(w, "bad gateway", http.StatusBadGateway)
}

// ServeStatus writes a gateway's non-API answer with the given status.
func ServeStatus(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
}

// ServeNull answers 200 with the JSON body `null`.
func ServeNull(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("null"))
}

// ServeGatewayError writes a non-API 5xx answer, as a load balancer would.
func ServeGatewayError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"))
}
