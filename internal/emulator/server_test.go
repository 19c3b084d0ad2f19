package emulator_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// TestCloseEndsCMQLongPoll: a receiver long-polling the emulated CMQ (30 s,
// the drain's wait) must not hold the server past its shutdown budget. It
// made TestDroppedBackupIsImported/cmq fail under load with "context
// deadline exceeded" in Close (issue 13 item 12).
func TestCloseEndsCMQLongPoll(t *testing.T) {
	emu, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	q, err := cmqqueue.Open("backupflow-work", &cmqqueue.Options{Endpoint: srv.URL, Region: "ap-guangzhou",
		Credentials: tencent.Credentials{SecretID: emulator.DefaultSecretID, SecretKey: secret.String(emulator.DefaultSecretKey)}})
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan error, 1)
	go func() {
		_, err := q.Receive(context.Background(), 1, 30*time.Second)
		polled <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the long-poll reach the broker
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("Close with a long-poll in flight: %v (after %v)", err, time.Since(start))
	}
	select {
	case <-polled:
	case <-time.After(5 * time.Second):
		t.Fatal("the long-poll did not end when the server closed")
	}
}

// A connection that has not sent its request yet (a client that dialled
// and was cancelled) must not hold Close past its budget: net/http counts a
// new connection as active for 5 s. It made a local-stack test flaky.
func TestCloseWithAnIdleNewConnection(t *testing.T) {
	e, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close = %v; want nil once every handler has ended", err)
	}
}
