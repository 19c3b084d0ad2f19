package cmqqueue

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/cmqemu"
	"github.com/backupflow/backupflow/internal/emulator/tencentemu"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/queuetest"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	testID  = "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"
	testKey = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
)

var creds = tencent.Credentials{SecretID: testID, SecretKey: secret.String(testKey)}

// stack is a CMQ broker behind its data plane and, for SendCmqMsg, the API
// 3.0 emulator forwarding to it, both on httptest servers.
type stack struct {
	clock  *clocktest.Clock
	broker *cmqemu.Broker
	plane  *httptest.Server
	api    *tencent.Client
	apiURL string
}

// senderAdapter maps cmqemu's missing-queue error onto the sentinel the
// API 3.0 emulator looks for.
type senderAdapter struct{ b *cmqemu.Broker }

func (s senderAdapter) SendMessage(queue, body string, delay time.Duration) (string, error) {
	id, err := s.b.SendMessage(queue, body, delay)
	var ce *cmqemu.Error
	if errors.As(err, &ce) && ce.QueueNotFound() {
		return "", fmt.Errorf("%w: %w", tencentemu.ErrQueueNotFound, err)
	}
	return id, err
}

func newStack(t *testing.T, o cmqemu.Options) *stack {
	t.Helper()
	// The data plane runs on a virtual clock; the API 3.0 emulator checks
	// the SDK's wall-clock timestamps, so it keeps the wall clock.
	s := &stack{clock: clocktest.New(time.Now())}
	o.SecretID, o.SecretKey, o.Now = testID, testKey, s.clock.Now
	s.broker = cmqemu.New(o)
	s.plane = httptest.NewServer(s.broker)
	t.Cleanup(s.plane.Close)
	api := httptest.NewServer(tencentemu.New(tencentemu.Options{SecretID: testID, SecretKey: testKey, CMQ: senderAdapter{s.broker}}))
	t.Cleanup(api.Close)
	cl, err := tencent.New(tencent.Config{Credentials: creds, Region: "ap-guangzhou", Endpoint: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	s.api, s.apiURL = cl, api.URL
	return s
}

func (s *stack) open(t *testing.T, name string, viaAPI bool, mutate func(*Options)) *queue.Queue {
	t.Helper()
	if err := s.broker.CreateQueue(name); err != nil {
		t.Fatal(err)
	}
	o := &Options{Endpoint: s.plane.URL, Region: "ap-guangzhou", Credentials: creds, Now: s.clock.Now}
	if viaAPI {
		o.API = s.api
	}
	if mutate != nil {
		mutate(o)
	}
	q, err := Open(name, o)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	return q
}

type harness struct {
	s      *stack
	viaAPI bool
	n      atomic.Int64
}

func (h *harness) MakeQueue(_ context.Context, t *testing.T) *queue.Queue {
	return h.s.open(t, fmt.Sprintf("conf-%d", h.n.Add(1)), h.viaAPI, nil)
}
func (h *harness) Advance(_ *testing.T, d time.Duration) { h.s.clock.Advance(d) }
func (h *harness) VisibilityTimeout() time.Duration      { return 30 * time.Second }

func TestConformance(t *testing.T) {
	t.Run("SendCmqMsg", func(t *testing.T) {
		queuetest.RunConformanceTests(t, &harness{s: newStack(t, cmqemu.Options{}), viaAPI: true})
	})
	t.Run("DataPlaneSend", func(t *testing.T) {
		queuetest.RunConformanceTests(t, &harness{s: newStack(t, cmqemu.Options{}), viaAPI: false})
	})
}
