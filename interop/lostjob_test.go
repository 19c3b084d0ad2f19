package interop_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP to target until Cut, which closes every connection
// it carries and refuses new ones until Mend: a queue endpoint that goes
// away mid-flight, as a network does.
type cutProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); p.Cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.l.Addr().String() }

func (p *cutProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// Cut closes every carried connection and refuses new ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *cutProxy) Mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// TestSlackLostEnqueue: the chat handler claims a message id, then
// enqueues. When the enqueue fails (the queue is unreachable), the
// platform's resend must queue the job, never answer "queued" over nothing
// (issue 13 item 5).
func TestSlackLostEnqueue(t *testing.T) {
	e := startEmulator(t)
	px := startCutProxy(t, strings.TrimPrefix(e.URL, "http://"))
	env := lambdaEnv(e, "lostjob")
	env["BACKUPFLOW_WORK_QUEUE"] += "&endpoint=" + px.URL()
	env["BACKUPFLOW_SLACK_SIGNING_SECRET"] = slackSecret
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "slack:U0INTEROP"
	r := startRIE(t, "chatops", env)
	q := sqsClient(e)
	check(t, slackClient, "enqueue failed (queue unreachable) → the resend queues the job", func(c *R) {
		ctx := deadline(t, 90*time.Second)
		// Warm the function (its queues open at start) while the way is open.
		h, body := slackRequest(c, "help", "trig-lost-warm", time.Now())
		slackAnswer(ctx, c, r, h, body)
		_, _ = take(ctx, q, "backupflow-work")
		px.Cut()
		h, body = slackRequest(c, "backup cdb-c1nl9rpv", "trig-lost-1", time.Now())
		_, first := slackAnswer(ctx, c, r, h, body)
		px.Mend()
		if strings.Contains(first.Text, "queued as job") {
			c.Errorf("the failed enqueue was answered as queued: %q", first.Text)
		}
		if got, _ := take(ctx, q, "backupflow-work"); len(got) != 0 {
			c.Errorf("with the queue cut, %d work messages arrived (answer %q)", len(got), first.Text)
			return
		}
		// Slack resends a command it got no good answer to; so does a user.
		_, again := slackAnswer(ctx, c, r, h, body)
		got, _ := take(ctx, q, "backupflow-work")
		if len(got) != 1 || !strings.Contains(got[0].Body, "cdb-c1nl9rpv") {
			c.Errorf("after the failed enqueue (answered %q), the resend (answered %q) queued %d jobs; want the one job",
				first.Text, again.Text, len(got))
		}
	})
}
