package sqsqueue

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/sqsemu"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/queuetest"
	"github.com/backupflow/backupflow/pkg/sigv4"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var staticCreds = sigv4.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}

type stack struct {
	clock *clocktest.Clock
	emu   *sqsemu.Server
	srv   *httptest.Server
}

func newStack(t *testing.T, o sqsemu.Options) *stack {
	t.Helper()
	s := &stack{clock: clocktest.New(time.Now())}
	// With the secret the emulator checks each signature with the SDK's
	// own signer.
	o.Now, o.AccessKeyID, o.SecretAccessKey = s.clock.Now, testKeyID, testSecret
	s.emu = sqsemu.New(o)
	s.srv = httptest.NewServer(s.emu)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stack) open(t *testing.T, name string) *queue.Queue {
	t.Helper()
	if err := s.emu.CreateQueue(name); err != nil {
		t.Fatal(err)
	}
	q, err := Open(context.Background(), name, &Options{Region: "us-east-1", Endpoint: s.srv.URL, Credentials: staticCreds})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	return q
}

type harness struct {
	s *stack
	n atomic.Int64
}

func (h *harness) MakeQueue(_ context.Context, t *testing.T) *queue.Queue {
	return h.s.open(t, fmt.Sprintf("conf-%d", h.n.Add(1)))
}
func (h *harness) Advance(_ *testing.T, d time.Duration) { h.s.clock.Advance(d) }
func (h *harness) VisibilityTimeout() time.Duration      { return 30 * time.Second }

func TestConformance(t *testing.T) {
	queuetest.RunConformanceTests(t, &harness{s: newStack(t, sqsemu.Options{})})
}
