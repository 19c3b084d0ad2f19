package interop_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateway stands in front of the Tencent API as its gateway does. Once
// Down is called it answers every request for the outage's length as a
// gateway in trouble answers — 502 and 503 with an HTML page, 429 Too Many
// Requests — none with a Tencent API body, then forwards again.
type gateway struct {
	srv    *httptest.Server
	mu     sync.Mutex
	until  time.Time
	faults int
}

var gatewayFaults = []struct {
	status int
	body   string
}{
	{http.StatusBadGateway, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"},
	{http.StatusServiceUnavailable, "<html><head><title>503 Service Temporarily Unavailable</title></head><body></body></html>"},
	{http.StatusTooManyRequests, "<html><head><title>429 Too Many Requests</title></head><body></body></html>"},
}

func startGateway(t *testing.T, target string) *gateway {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{}
	rp := httputil.NewSingleHostReverseProxy(u)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		down := time.Now().Before(g.until)
		f := gatewayFaults[g.faults%len(gatewayFaults)]
		if down {
			g.faults++
		}
		g.mu.Unlock()
		if !down {
			rp.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// Down starts an outage of d.
func (g *gateway) Down(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.until = time.Now().Add(d)
}

func (g *gateway) met() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.faults
}

// TestLambdaGatewayOutage (issue 13 item 7): the Tencent API's gateway is
// out for 25 s, answering 502, 503 and 429 with HTML pages, while a
// nightly create is handled. A 429 and a 503 mean "later", a 502 with a
// body that is no API answer is ambiguous (look the job up, then retry):
// none is the job's fault, so the create keeps retrying on time — its
// budget is hours, not four tries — and starts its backup once the gateway
// is back. Before the fixes every answer reached the flow as HTTP status 0
// with an unreadable body, four tries with 2–8 s backoff were spent inside
// the outage and the job was dead-lettered.
func TestLambdaGatewayOutage(t *testing.T) {
	t.Parallel() // it waits out the outage, beside the SQS suite
	e := startEmulator(t)
	gw := startGateway(t, e.URL)
	env := lambdaEnv(e, "outage")
	env["BACKUPFLOW_TENCENT_ENDPOINT"] = strings.TrimPrefix(gw.srv.URL, "http://")
	create := startRIE(t, "create-backup", env)
	q := sqsClient(e)
	check(t, rieClient, "create-backup during a 25 s gateway outage (502/503/429, HTML bodies) → retried on time, the backup starts after it, nothing dead-lettered", func(c *R) {
		ctx := deadline(t, 180*time.Second)
		if inv, err := create.invoke(ctx, []byte(`{"targets":["cdb-c1nl9rpv"]}`)); err != nil || inv.err != nil {
			c.Errorf("schedule: %v %s", err, inv)
			return
		}
		// The run is queued; the gateway goes down before its create is handled.
		gw.Down(25 * time.Second)
		_, from := create.logs.From(0)
		var logs string
		for ctx.Err() == nil {
			deliver(ctx, c, q, create, "backupflow-work")
			logs, _ = create.logs.From(from)
			if containsAny(logs, "cloud job started", "dead-lettered") {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if n := gw.met(); n < 3 {
			c.Errorf("the create met %d gateway faults; the outage was not exercised", n)
		}
		if l := failedLine(logs); l != "" {
			c.Errorf("a gateway outage failed the job: %s", l)
		}
		if !strings.Contains(logs, "cloud job started") {
			c.Errorf("the backup never started after the outage (%d faults met): %s", gw.met(), logs)
		}
		if dead, _ := received(ctx, q, "backupflow-dead", 10); len(dead) > 0 {
			c.Errorf("%d messages dead-lettered by a gateway outage, e.g. %s", len(dead), dead[0].Body)
		}
	})
}
