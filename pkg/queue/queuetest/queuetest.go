package queuetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/queue"
)

// Harness gives the suite fresh queues of one driver and control of the
// clock they are due on.
type Harness interface {
	// MakeQueue returns a new, empty queue, closed by the suite.
	MakeQueue(ctx context.Context, t *testing.T) *queue.Queue
	// Advance moves the clock the queue (and its broker) judge due times
	// by. Harnesses on a virtual clock advance it; others sleep.
	Advance(t *testing.T, d time.Duration)
	// VisibilityTimeout is how long a received message stays hidden.
	VisibilityTimeout() time.Duration
}

// RunConformanceTests checks the portable contract against h's driver.
func RunConformanceTests(t *testing.T, h Harness) {
	t.Helper()
	tests := []struct {
		name string
		run  func(context.Context, *testing.T, Harness, *queue.Queue)
	}{
		{"SendReceiveDelete", testSendReceiveDelete},
		{"EmptyReceive", testEmptyReceive},
		{"Delay", testDelay},
		{"VisibilityRedelivery", testVisibilityRedelivery},
		{"Batch", testBatch},
		{"BodyRoundTrip", testBodyRoundTrip},
		{"BadBodies", testBadBodies},
		{"DelayLimits", testDelayLimits},
		{"InvalidReceipt", testInvalidReceipt},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			q := h.MakeQueue(ctx, t)
			defer q.Close()
			tt.run(ctx, t, h, q)
		})
	}
}

func send(ctx context.Context, t *testing.T, q *queue.Queue, body string, delay time.Duration) string {
	t.Helper()
	id, err := q.Send(ctx, []byte(body), delay)
	if err != nil {
		t.Fatalf("Send(%q, %v) = %v", body, delay, err)
	}
	if id == "" {
		t.Fatalf("Send(%q, %v) returned an empty id", body, delay)
	}
	return id
}

func receive(ctx context.Context, t *testing.T, q *queue.Queue, max int) []queue.Message {
	t.Helper()
	ms, err := q.Receive(ctx, max, 0)
	if err != nil {
		t.Fatalf("Receive(%d) = %v", max, err)
	}
	if ms == nil {
		t.Fatalf("Receive(%d) returned a nil slice; want non-nil even when empty", max)
	}
	return ms
}

func receiveOne(ctx context.Context, t *testing.T, q *queue.Queue) queue.Message {
	t.Helper()
	ms := receive(ctx, t, q, 10)
	if len(ms) != 1 {
		t.Fatalf("Receive got %d messages; want 1", len(ms))
	}
	return ms[0]
}

func testSendReceiveDelete(ctx context.Context, t *testing.T, h Harness, q *queue.Queue) {
	id := send(ctx, t, q, `{"job":"j1"}`, 0)
	m := receiveOne(ctx, t, q)
	if m.ID != id || string(m.Body) != `{"job":"j1"}` || m.Receives != 1 || m.Receipt == "" {
		t.Fatalf("Receive = %+v; want id %s, the body, Receives 1 and a receipt", m, id)
	}
	if ms := receive(ctx, t, q, 10); len(ms) != 0 {
		t.Fatalf("second Receive while in flight got %d messages; want 0", len(ms))
	}
	if err := q.Delete(ctx, m.Receipt); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	h.Advance(t, h.VisibilityTimeout()+time.Second)
	if ms := receive(ctx, t, q, 10); len(ms) != 0 {
		t.Fatalf("Receive after Delete got %d messages; want 0", len(ms))
	}
}

func testEmptyReceive(ctx context.Context, t *testing.T, _ Harness, q *queue.Queue) {
	if ms := receive(ctx, t, q, 1); len(ms) != 0 {
		t.Fatalf("Receive on an empty queue got %d messages", len(ms))
	}
}

func testDelay(ctx context.Context, t *testing.T, h Harness, q *queue.Queue) {
	id := send(ctx, t, q, "later", 2*time.Second)
	if ms := receive(ctx, t, q, 10); len(ms) != 0 {
		t.Fatalf("Receive before the delay got %d messages; want 0", len(ms))
	}
	h.Advance(t, 3*time.Second)
	if m := receiveOne(ctx, t, q); m.ID != id {
		t.Fatalf("Receive after the delay got %s; want %s", m.ID, id)
	}
}

func testVisibilityRedelivery(ctx context.Context, t *testing.T, h Harness, q *queue.Queue) {
	id := send(ctx, t, q, "again", 0)
	first := receiveOne(ctx, t, q)
	h.Advance(t, h.VisibilityTimeout()+time.Second)
	second := receiveOne(ctx, t, q)
	if second.ID != id || second.Receives != 2 || second.Receipt == first.Receipt {
		t.Fatalf("redelivery = %+v; want id %s, Receives 2 and a new receipt (first %q)", second, id, first.Receipt)
	}
	if err := q.Delete(ctx, second.Receipt); err != nil {
		t.Fatalf("Delete(latest receipt) = %v", err)
	}
	h.Advance(t, h.VisibilityTimeout()+time.Second)
	if ms := receive(ctx, t, q, 10); len(ms) != 0 {
		t.Fatalf("Receive after Delete got %d messages; want 0", len(ms))
	}
}

func testBatch(ctx context.Context, t *testing.T, _ Harness, q *queue.Queue) {
	want := map[string]bool{}
	for _, b := range []string{"a", "b", "c", "d", "e"} {
		want[send(ctx, t, q, b, 0)] = true
	}
	got := map[string]bool{}
	for range 10 {
		for _, m := range receive(ctx, t, q, 10) {
			if got[m.ID] {
				t.Fatalf("message %s delivered twice while in flight", m.ID)
			}
			got[m.ID] = true
			if err := q.Delete(ctx, m.Receipt); err != nil {
				t.Fatalf("Delete = %v", err)
			}
		}
		if len(got) == len(want) {
			break
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("message %s never received", id)
		}
	}
	if ms, err := q.Receive(ctx, 1000, 0); err != nil || len(ms) != 0 {
		t.Errorf("Receive(1000) on a drained queue = %d, %v; want 0, nil (max is clamped)", len(ms), err)
	}
}

func testBodyRoundTrip(ctx context.Context, t *testing.T, _ Harness, q *queue.Queue) {
	bodies := []string{
		`{"id":"a b","n":1,"s":"x+y=z&w%20"}`,
		"line1\nline2\ttab",
		"中文 ünïcode ✓",
		"@starts-with-at",
		strings.Repeat("x", 64<<10),
	}
	for _, b := range bodies {
		send(ctx, t, q, b, 0)
		m := receiveOne(ctx, t, q)
		if string(m.Body) != b {
			t.Errorf("body %.40q came back as %.40q", b, m.Body)
		}
		if err := q.Delete(ctx, m.Receipt); err != nil {
			t.Fatalf("Delete = %v", err)
		}
	}
}

func testBadBodies(ctx context.Context, t *testing.T, _ Harness, q *queue.Queue) {
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"oversize", []byte(strings.Repeat("x", queue.MaxBodySize+1))},
		{"not utf-8", []byte{0xff, 0xfe}},
	}
	for _, tt := range tests {
		if _, err := q.Send(ctx, tt.body, 0); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Send(%s body) = %v; want apierr.ErrInvalidInput", tt.name, err)
		}
	}
}

func testDelayLimits(ctx context.Context, t *testing.T, _ Harness, q *queue.Queue) {
	max := q.MaxDelay()
	if max <= 0 {
		t.Fatalf("MaxDelay() = %v; want > 0", max)
	}
	for _, d := range []time.Duration{-time.Second, max + time.Second} {
		if _, err := q.Send(ctx, []byte("x"), d); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Send(delay %v) = %v; want apierr.ErrInvalidInput", d, err)
		}
	}
	send(ctx, t, q, "at the limit", max)
	if ms := receive(ctx, t, q, 10); len(ms) != 0 {
		t.Errorf("message delayed by MaxDelay was delivered at once")
	}
}

// testInvalidReceipt: a made-up receipt is ErrInvalidReceipt everywhere;
// stale and reused receipts may be refused (CMQ, mem) or accepted (SQS is
// lenient), but never with another error.
func testInvalidReceipt(ctx context.Context, t *testing.T, h Harness, q *queue.Queue) {
	send(ctx, t, q, "x", 0)
	first := receiveOne(ctx, t, q)
	if err := q.Delete(ctx, "bogus-"+first.Receipt); !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete(made-up receipt) = %v; want ErrInvalidReceipt", err)
	}
	h.Advance(t, h.VisibilityTimeout()+time.Second)
	second := receiveOne(ctx, t, q)
	if err := q.Delete(ctx, first.Receipt); err != nil && !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete(stale receipt) = %v; want nil or ErrInvalidReceipt", err)
	}
	if err := q.Delete(ctx, second.Receipt); err != nil && !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete(latest receipt) = %v", err)
	}
	if err := q.Delete(ctx, second.Receipt); err != nil && !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete(same receipt twice) = %v; want nil or ErrInvalidReceipt", err)
	}
}

func testClosed(ctx context.Context, t *testing.T, _ Harness, q *queue.Queue) {
	if err := q.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	if _, err := q.Send(ctx, []byte("x"), 0); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Send after Close = %v; want ErrClosed", err)
	}
	if _, err := q.Receive(ctx, 1, 0); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Receive after Close = %v; want ErrClosed", err)
	}
}
