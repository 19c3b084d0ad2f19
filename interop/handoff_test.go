package interop_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// gate forwards connections to target once it is opened; until then each
// connection waits, and arrived is closed when the first one comes in.
type gate struct {
	l       net.Listener
	target  string
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

func startGate(t *testing.T, target string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{l: l, target: target, arrived: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(func() { l.Close(); g.Open() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			g.once.Do(func() { close(g.arrived) })
			go func() {
				defer conn.Close()
				<-g.open
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, conn) }()
				_, _ = io.Copy(conn, up)
			}()
		}
	}()
	return g
}

func (g *gate) Addr() string { return g.l.Addr().String() }

// Open lets every held and later connection through.
func (g *gate) Open() {
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// handOver gives records, taken off their queue by the case (to hand them
// over in an order the event source may choose, or twice, as at-least-once
// delivery may), to r as one SQS batch. Since they are no longer on the
// queue, a record the function lists as failed — one SQS would deliver
// again — fails the case instead of being lost.
func handOver(ctx context.Context, c *R, r *rie, what string, records ...events.SQSMessage) bool {
	batch, _ := json.Marshal(events.SQSEvent{Records: records})
	inv, err := r.invoke(ctx, batch)
	var br batchResponse
	switch {
	case err != nil || inv.err != nil:
		c.Errorf("%s: %v %s", what, err, inv)
		return false
	case json.Unmarshal(inv.body, &br) != nil:
		c.Errorf("%s: not a partial batch response: %s", what, inv.body)
		return false
	case len(br.BatchItemFailures) > 0:
		c.Errorf("%s: records listed as failed (SQS would deliver them again): %s", what, inv.body)
		return false
	}
	return true
}

// step is a queued job message's step and hand-off number.
func step(m events.SQSMessage) (string, int) {
	var env struct {
		Step string `json:"step"`
		Seq  int    `json:"seq"`
	}
	_ = json.Unmarshal([]byte(m.Body), &env)
	return env.Step, env.Seq
}

// TestLambdaDuplicateCreateWhileStartHeld (issue 13 item 6): SQS hands the
// same create record to two create-backup instances at once. The first
// (A) wins the start claim and is inside the cloud's CreateBackup — held
// there by a gate in front of its Tencent API — when the copy reaches the
// second (B): B finds the claim held and queues create(seq 1) to check back.
// A then starts the job and hands off poll(seq 1). Both carry seq 1. When
// create(1) is delivered first, it must stop at the handed-off job (no
// second hand-off, no second start) and poll(1) must still be handled to
// the job's outcome, not dropped as create(1)'s duplicate. The three
// processes share one s3:// ledger on gofakes3.
func TestLambdaDuplicateCreateWhileStartHeld(t *testing.T) {
	// The copy checks back after half the start lease (a minute): this case
	// waits for it beside the SQS conformance suite, which sleeps longer.
	t.Parallel()
	e := startEmulator(t)
	env := lambdaEnv(e, "handoff")
	s3 := startS3(t, "backupflow-ledger")
	env["BACKUPFLOW_LEDGER"] = "s3://backupflow-ledger/interop-handoff"
	env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
	for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
		env[v] += "&endpoint=" + e.URL
	}
	env["BACKUPFLOW_FIRST_POLL"], env["BACKUPFLOW_POLL_MIN"] = "1s", "1s"
	g := startGate(t, strings.TrimPrefix(e.URL, "http://"))
	envA := map[string]string{}
	for k, v := range env {
		envA[k] = v
	}
	envA["BACKUPFLOW_TENCENT_ENDPOINT"] = g.Addr()
	a := startRIE(t, "create-backup", envA)
	b := startRIE(t, "create-backup", env)
	p := startRIE(t, "poll-status", env)
	q := sqsClient(e)
	check(t, rieClient, "create-backup a create copy while the start claim is held → create(1) stops at the handed-off job, poll(1) is not dropped", func(c *R) {
		ctx := deadline(t, 180*time.Second)
		payload, _ := os.ReadFile(filepath.Join("..", "events", "create-backup", "aws-schedule-input.json"))
		if inv, err := b.invoke(ctx, payload); err != nil || inv.err != nil {
			c.Errorf("nightly: %v %s", err, inv)
			return
		}
		work, err := take(ctx, q, "backupflow-work")
		var rec events.SQSMessage
		for _, m := range work {
			if strings.Contains(m.Body, `"cdb-c1nl9rpv"`) {
				rec = m
			}
		}
		if err != nil || rec.Body == "" {
			c.Errorf("the nightly run queued no create for cdb-c1nl9rpv: %v", err)
			return
		}
		job := jobID(rec)
		// A takes the claim and calls CreateBackup, which the gate holds.
		ra := &R{t: c.t} // A's own failures, merged once it has returned
		aDone := make(chan bool, 1)
		go func() { aDone <- handOver(ctx, ra, a, "the create on A", rec) }()
		select {
		case <-g.arrived:
		case <-ctx.Done():
			c.Errorf("A never called the Tencent API")
		}
		_, bFrom := b.logs.From(0)
		bOK := handOver(ctx, c, b, "the copy on B", rec)
		bLogs, _ := b.logs.From(bFrom)
		g.Open()
		aOK := <-aDone
		c.errs = append(c.errs, ra.errs...)
		if !aOK || !bOK {
			return
		}
		if !strings.Contains(bLogs, "holds the start claim") {
			c.Errorf("the copy did not find the start claim held: %s", bLogs)
			return
		}

		// The two seq-1 messages: poll(1) from A, create(1) from B (due a
		// minute after the copy).
		var poll1, create1 events.SQSMessage
		for poll1.Body == "" || create1.Body == "" {
			if ctx.Err() != nil {
				c.Errorf("waited for poll(1) and create(1): poll %q, create %q", poll1.Body, create1.Body)
				return
			}
			time.Sleep(time.Second)
			for _, queue := range []string{"backupflow-poll", "backupflow-work"} {
				got, _ := take(ctx, q, queue)
				for _, m := range got {
					if jobID(m) != job {
						continue
					}
					switch st, seq := step(m); {
					case st == "poll" && seq == 1:
						poll1 = m
					case st == "create" && seq == 1:
						create1 = m
					default:
						c.Errorf("unexpected %s(%d) for %s before create(1) was delivered", st, seq, job)
					}
				}
			}
		}

		_, bFrom = b.logs.From(0)
		if !handOver(ctx, c, b, "create(1)", create1) {
			return
		}
		logs, _ := b.logs.From(bFrom)
		if containsAny(logs, "cloud job started", "adopted a job") {
			c.Errorf("create(1) of a job already handed off started or adopted it again: %s", logs)
		}
		time.Sleep(1500 * time.Millisecond) // a first status check's delay
		for _, queue := range []string{"backupflow-poll", "backupflow-work"} {
			got, _ := take(ctx, q, queue)
			for _, m := range got {
				if jobID(m) == job {
					st, seq := step(m)
					c.Errorf("create(1) of a job already handed off queued %s(%d)", st, seq)
				}
			}
		}

		_, pFrom := p.logs.From(0)
		if !handOver(ctx, c, p, "poll(1)", poll1) {
			return
		}
		logs, _ = p.logs.From(pFrom)
		if strings.Contains(logs, "duplicate delivery dropped") || !strings.Contains(logs, "job finished") {
			c.Errorf("poll(1) was not handled to the job's outcome (dropped as create(1)'s duplicate?): %s", logs)
		}
	})
}
