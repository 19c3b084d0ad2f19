package memqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
)

func drain(t *testing.T, q *Queue) []string {
	t.Helper()
	var ids []string
	for {
		ms, err := q.Receive(context.Background(), 16, 0)
		if err != nil {
			t.Fatalf("Receive = %v", err)
		}
		if len(ms) == 0 {
			return ids
		}
		for _, m := range ms {
			ids = append(ids, m.ID)
			if err := q.Delete(context.Background(), m.Receipt); err != nil {
				t.Fatalf("Delete = %v", err)
			}
		}
	}
}

func sendN(t *testing.T, q *Queue, n int) {
	t.Helper()
	for range n {
		if _, err := q.Send(context.Background(), []byte("x"), 0); err != nil {
			t.Fatalf("Send = %v", err)
		}
	}
}

func TestDuplicateRate(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		wantMin int
		wantMax int
	}{
		{"none", 0, 100, 100},
		{"all", 1, 200, 200},
		{"some", 0.3, 110, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := New("dup", &Options{DuplicateRate: tt.rate, Seed: 1})
			sendN(t, q, 100)
			got := drain(t, q)
			if len(got) < tt.wantMin || len(got) > tt.wantMax {
				t.Fatalf("delivered %d messages for 100 sends; want %d..%d", len(got), tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestReorderIsSeeded(t *testing.T) {
	run := func(seed uint64, reorder bool) []string {
		q := New("r", &Options{Reorder: reorder, Seed: seed})
		sendN(t, q, 20)
		return drain(t, q)
	}
	if a, b := run(7, true), run(7, true); !slices.Equal(a, b) {
		t.Errorf("same seed gave different orders:\n%v\n%v", a, b)
	}
	ordered := run(7, false)
	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprintf("mem-%d", i))
	}
	if !slices.Equal(ordered, want) {
		t.Errorf("Reorder off delivered %v; want send order", ordered)
	}
	if shuffled := run(7, true); slices.Equal(shuffled, ordered) {
		t.Errorf("Reorder on kept send order for 20 messages")
	}
}

func TestNamedShared(t *testing.T) {
	t.Cleanup(func() { Forget("shared") })
	a := Open("shared", nil)
	b, err := queue.Open(context.Background(), "mem://shared", openurl.Env{})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if _, err := a.Send(context.Background(), []byte("hi"), 0); err != nil {
		t.Fatalf("Send = %v", err)
	}
	ms, err := b.Receive(context.Background(), 1, 0)
	if err != nil || len(ms) != 1 || string(ms[0].Body) != "hi" {
		t.Fatalf("Receive on the other handle = %v, %v; want the message", ms, err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := Named("shared", nil).Len(); got != 1 {
		t.Errorf("Len after closing one handle = %d; want 1 (shared queues outlive handles)", got)
	}
}

func TestIntrospection(t *testing.T) {
	clock := &clocktest.Clock{}
	q := New("i", &Options{Now: clock.Now, VisibilityTimeout: time.Minute})
	if _, ok := q.NextDue(); ok {
		t.Fatal("NextDue on an empty queue reported a time")
	}
	start := clock.Now()
	ctx := context.Background()
	q.Send(ctx, []byte("late"), 10*time.Minute)
	q.Send(ctx, []byte("soon"), time.Minute)
	if due, ok := q.NextDue(); !ok || !due.Equal(start.Add(time.Minute)) {
		t.Fatalf("NextDue = %v, %v; want %v", due, ok, start.Add(time.Minute))
	}
	clock.Advance(time.Minute)
	ms, _ := q.Receive(ctx, 16, 0)
	if len(ms) != 1 || string(ms[0].Body) != "soon" {
		t.Fatalf("Receive = %v; want the soon message", ms)
	}
	if q.Len() != 2 || q.InFlight() != 1 {
		t.Errorf("Len, InFlight = %d, %d; want 2, 1", q.Len(), q.InFlight())
	}
	if due, _ := q.NextDue(); !due.Equal(start.Add(2 * time.Minute)) {
		t.Errorf("NextDue with one in flight = %v; want its redelivery at %v", due, start.Add(2*time.Minute))
	}
	q.Purge()
	if q.Len() != 0 {
		t.Errorf("Len after Purge = %d", q.Len())
	}
}

func TestReceiveWaitWakesOnSend(t *testing.T) {
	q := New("w", nil)
	done := make(chan []queue.Message)
	go func() {
		ms, _ := queue.New("w", q).Receive(context.Background(), 1, time.Hour)
		done <- ms
	}()
	// The receiver may or may not be parked yet; either way it must see this.
	q.Send(context.Background(), []byte("wake"), 0)
	if ms := <-done; len(ms) != 1 {
		t.Fatalf("long poll returned %d messages; want 1", len(ms))
	}
}

func TestReceiveWaitHonoursContext(t *testing.T) {
	q := New("c", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Receive(ctx, 1, time.Hour); err == nil {
		t.Fatal("Receive with a cancelled context and a wait returned nil error")
	}
}

func TestOpenURL(t *testing.T) {
	t.Cleanup(func() { Forget("u") })
	q, err := queue.Open(context.Background(), "mem://u?visibility=5s&maxdelay=15m&duplicate=0.5&reorder=true&seed=3", openurl.Env{})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if q.MaxDelay() != 15*time.Minute || Named("u", nil).VisibilityTimeout() != 5*time.Second {
		t.Errorf("options from the URL not applied: maxdelay %v visibility %v", q.MaxDelay(), Named("u", nil).VisibilityTimeout())
	}
	for _, bad := range []string{"mem://", "mem://x?visibility=soon", "mem://x?duplicate=2", "nope://x"} {
		if _, err := queue.Open(context.Background(), bad, openurl.Env{}); err == nil {
			t.Errorf("Open(%q) = nil error", bad)
		}
	}
}

func TestOnlyLatestReceiptDeletes(t *testing.T) {
	clock := &clocktest.Clock{}
	q := New("latest", &Options{Now: clock.Now})
	ctx := context.Background()
	q.Send(ctx, []byte("x"), 0)
	first, _ := q.Receive(ctx, 1, 0)
	clock.Advance(DefaultVisibilityTimeout)
	if err := q.Delete(ctx, first[0].Receipt); !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete(expired receipt) = %v; want ErrInvalidReceipt", err)
	}
	second, _ := q.Receive(ctx, 1, 0)
	if err := q.Delete(ctx, first[0].Receipt); !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete(stale receipt) = %v; want ErrInvalidReceipt", err)
	}
	if err := q.Delete(ctx, second[0].Receipt); err != nil {
		t.Errorf("Delete(latest receipt) = %v", err)
	}
	if err := q.Delete(ctx, second[0].Receipt); !errors.Is(err, queue.ErrInvalidReceipt) {
		t.Errorf("Delete twice = %v; want ErrInvalidReceipt", err)
	}
}

// TestDeliveryOrderMatchesModel drives the queue with seeded random sends
// (delayed or not), receives, deletes and clock steps, and checks every
// receive and NextDue against a plain model: due messages in (due time,
// send order), a received one hidden for the visibility timeout.
func TestDeliveryOrderMatchesModel(t *testing.T) {
	type modelMsg struct {
		id      string
		seq     int
		due     time.Time
		receipt string
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clock := clocktest.New(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
			q := New("model", &Options{Now: clock.Now, VisibilityTimeout: 7 * time.Second, DuplicateRate: 0.2, Seed: seed})
			rng := rand.New(rand.NewPCG(seed, 99))
			ctx := context.Background()
			var model []*modelMsg
			seq := 0
			for step := range 3000 {
				switch op := rng.IntN(10); {
				case op < 4:
					delay := time.Duration(rng.IntN(20)) * time.Second
					before := q.Len()
					id, _ := q.Send(ctx, []byte("m"), delay)
					for range q.Len() - before { // a duplicate delivery is a second message
						seq++
						model = append(model, &modelMsg{id: id, seq: seq, due: clock.Now().Add(delay)})
					}
				case op < 7:
					n := 1 + rng.IntN(5)
					got, _ := q.Receive(ctx, n, 0)
					var due []*modelMsg
					for _, m := range model {
						if !m.due.After(clock.Now()) {
							due = append(due, m)
						}
					}
					slices.SortFunc(due, func(a, b *modelMsg) int {
						if c := a.due.Compare(b.due); c != 0 {
							return c
						}
						return a.seq - b.seq
					})
					due = due[:min(n, len(due))]
					if len(got) != len(due) {
						t.Fatalf("step %d: received %d messages; model has %d due", step, len(got), len(due))
					}
					for i, m := range due {
						if got[i].ID != m.id {
							t.Fatalf("step %d: message %d is %s; model wants %s", step, i, got[i].ID, m.id)
						}
						m.receipt, m.due = got[i].Receipt, clock.Now().Add(7*time.Second)
					}
				case op < 9:
					var held []*modelMsg
					for _, m := range model {
						if m.receipt != "" && m.due.After(clock.Now()) {
							held = append(held, m)
						}
					}
					if len(held) == 0 {
						continue
					}
					m := held[rng.IntN(len(held))]
					if err := q.Delete(ctx, m.receipt); err != nil {
						t.Fatalf("step %d: Delete(%s) = %v", step, m.receipt, err)
					}
					model = slices.DeleteFunc(model, func(x *modelMsg) bool { return x == m })
				default:
					clock.Advance(time.Duration(1+rng.IntN(4)) * time.Second)
				}
				next, ok := q.NextDue()
				if ok != (len(model) > 0) || q.Len() != len(model) {
					t.Fatalf("step %d: Len %d, NextDue ok %v; model holds %d", step, q.Len(), ok, len(model))
				}
				if ok {
					want := slices.MinFunc(model, func(a, b *modelMsg) int { return a.due.Compare(b.due) }).due
					if !next.Equal(want) {
						t.Fatalf("step %d: NextDue %v; model %v", step, next, want)
					}
				}
			}
		})
	}
}
