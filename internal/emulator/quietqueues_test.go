package emulator_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	_ "github.com/backupflow/backupflow/pkg/queue/cmqqueue"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// TestQuietQueuesSpareOnlyTheQueues: with QuietQueues every request to a
// database API still meets the injected faults, while the CMQ driver's
// send (TDMQ's SendCmqMsg), receive and delete get through — the split the
// real-time window benchmark measures with, as the simulator's in-memory
// queue has no faults. Without it the queues fail too.
func TestQuietQueuesSpareOnlyTheQueues(t *testing.T) {
	for _, quiet := range []bool{true, false} {
		emu, err := emulator.New(emulator.Options{Faults: fault.New(1, 1, fault.InternalError), QuietQueues: quiet, DisableRateLimits: true})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(emu)
		env := emu.Env(srv.URL)
		ctx := context.Background()
		c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: emulator.DefaultSecretID,
			SecretKey: secret.String(emulator.DefaultSecretKey)}, Region: "ap-guangzhou", Endpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Call(ctx, tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "DescribeDBInstances"}, struct{}{}, nil)
		if !strings.HasPrefix(apierr.Code(err), "InternalError") {
			t.Errorf("quiet=%v: a database call got %v; want the injected InternalError", quiet, err)
		}
		q, err := queue.Open(ctx, "cmq://backupflow-work", openurl.Env{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Fatal(err)
		}
		_, serr := q.Send(ctx, []byte(`{"x":1}`), 0)
		msgs, rerr := q.Receive(ctx, 1, 0)
		if quiet {
			if serr != nil || rerr != nil || len(msgs) != 1 {
				t.Errorf("quiet queues: send %v, receive %d messages, %v; want one through", serr, len(msgs), rerr)
			} else if err := q.Delete(ctx, msgs[0].Receipt); err != nil {
				t.Errorf("quiet queues: delete: %v", err)
			}
		} else if serr == nil {
			t.Errorf("faulty queues: send went through")
		}
		srv.Close()
	}
}
