package clocktest

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	var c Clock
	if !c.Now().Equal(Epoch) {
		t.Fatalf("zero clock reads %v; want %v", c.Now(), Epoch)
	}
	c.Advance(time.Minute)
	if got := c.Now().Sub(Epoch); got != time.Minute {
		t.Errorf("after Advance(1m): +%v", got)
	}
	c.Set(Epoch) // never back
	if got := c.Now().Sub(Epoch); got != time.Minute {
		t.Errorf("Set to an earlier time moved the clock back to +%v", got)
	}
	c.Set(Epoch.Add(time.Hour))
	if got := c.Now().Sub(Epoch); got != time.Hour {
		t.Errorf("after Set(+1h): +%v", got)
	}
	start := time.Unix(1_700_000_000, 0)
	n := New(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { n.Advance(time.Second); _ = n.Now() })
	}
	wg.Wait()
	if got := n.Now().Sub(start); got != 8*time.Second {
		t.Errorf("8 concurrent Advance(1s): +%v", got)
	}
}

func TestSleepAdvancesInsteadOfWaiting(t *testing.T) {
	c := New(Epoch)
	if err := c.Sleep(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := c.Now().Sub(Epoch); got != 3*time.Second {
		t.Errorf("after Sleep(3s): +%v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Second); err == nil {
		t.Error("Sleep with a done context returned nil")
	}
	if got := c.Now().Sub(Epoch); got != 3*time.Second {
		t.Errorf("a cancelled Sleep moved the clock to +%v", got)
	}
}
