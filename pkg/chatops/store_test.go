package chatops_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/chatapp"
)

// The deployed Store (the ledger in the emulator's COS bucket) keeps the
// contract the handler relies on: one winner per live key, expiry by ttl.
func TestStore_deployed(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(now)
	s := chatapp.Store(newDeployed(t, clock, nil).app, clock.Now)

	steps := []struct {
		name    string
		advance time.Duration
		claim   bool // want from Claim("k", 1m)
	}{
		{"first claim wins", 0, true},
		{"second claim loses", 0, false},
		{"still live just before expiry", time.Minute - time.Nanosecond, false},
		{"free again after ttl", time.Nanosecond, true},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		if got, err := s.Claim(ctx, "chatops:job:k", time.Minute); got != st.claim || err != nil {
			t.Errorf("%s: Claim = %v, %v; want %v", st.name, got, err, st.claim)
		}
	}

	if err := s.Put(ctx, "chatops:p", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get(ctx, "chatops:p"); string(v) != "v1" || !ok || err != nil {
		t.Errorf("Get = %q, %v, %v; want v1", v, ok, err)
	}
	clock.Advance(time.Minute)
	if v, ok, _ := s.Get(ctx, "chatops:p"); ok {
		t.Errorf("Get after ttl = %q; want nothing", v)
	}
	if _, ok, _ := s.Get(ctx, "chatops:missing"); ok {
		t.Errorf("Get(missing) found something")
	}
}

func TestStore_deployedConcurrentClaimHasOneWinner(t *testing.T) {
	clock := clocktest.New(now)
	s := chatapp.Store(newDeployed(t, clock, nil).app, clock.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := s.Claim(context.Background(), "chatops:job:same", time.Hour); ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d claims won; want 1", wins)
	}
}
