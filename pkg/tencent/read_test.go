package tencent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	okAnswer       = `{"Response":{"TotalCount":0,"RequestId":"r-ok"}}`
	internalAnswer = `{"Response":{"Error":{"Code":"InternalError","Message":"boom"},"RequestId":"r-ie"}}`
	authAnswer     = `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad signature"},"RequestId":"r-auth"}}`
)

// TestReadRetriesTransientFailures: Read tries a read again after a
// transient failure, with doubling waits on the client's clock, and gives
// up at once on a permanent one; Call never retries. Discovery's reads go
// through Read: one fault among a fleet's reads failed the whole nightly
// fan-out (internal/reliability TestNightlyFanOutRidesOutTransientFaults).
func TestReadRetriesTransientFailures(t *testing.T) {
	html503 := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html>503</html>"))
	}
	for _, tc := range []struct {
		name      string
		read      bool
		fail      int    // answers that fail before the good one
		failWith  string // "" for a gateway 503 page
		wantCalls int
		wantKind  apierr.Kind // of the error, when one is wanted
		wantErr   bool
		wantWait  time.Duration
	}{
		{name: "read, two internal errors", read: true, fail: 2, failWith: internalAnswer, wantCalls: 3, wantWait: 300 * time.Millisecond},
		{name: "read, a gateway 503", read: true, fail: 1, wantCalls: 2, wantWait: 100 * time.Millisecond},
		{name: "read, always failing", read: true, fail: 100, failWith: internalAnswer, wantCalls: 6, wantErr: true,
			wantKind: apierr.RetryAfterLookup, wantWait: (100 + 200 + 400 + 800 + 1600) * time.Millisecond},
		{name: "read, permanent", read: true, fail: 100, failWith: authAnswer, wantCalls: 1, wantErr: true, wantKind: apierr.Permanent},
		{name: "call, internal error", fail: 1, failWith: internalAnswer, wantCalls: 1, wantErr: true, wantKind: apierr.RetryAfterLookup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				if n <= tc.fail {
					if tc.failWith == "" {
						html503(w)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(tc.failWith))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(okAnswer))
			}))
			defer srv.Close()
			start := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
			clk := clocktest.New(start)
			c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
				Region: "ap-guangzhou", Endpoint: srv.URL, Now: clk.Now, Sleep: clk.Sleep, NoPace: true})
			if err != nil {
				t.Fatal(err)
			}
			a := tencent.Action{Service: "mongodb", Version: "2019-07-25", Name: "DescribeDBInstances"}
			var resp struct{ TotalCount int }
			if tc.read {
				err = c.Read(context.Background(), a, struct{}{}, &resp)
			} else {
				err = c.Call(context.Background(), a, struct{}{}, &resp)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v; want an error: %v", err, tc.wantErr)
			}
			if err != nil && apierr.KindOf(err) != tc.wantKind {
				t.Errorf("kind = %v (%v); want %v", apierr.KindOf(err), err, tc.wantKind)
			}
			if got := int(calls.Load()); got != tc.wantCalls {
				t.Errorf("%d calls; want %d", got, tc.wantCalls)
			}
			if waited := clk.Now().Sub(start); waited != tc.wantWait {
				t.Errorf("waited %s on the clock; want %s", waited, tc.wantWait)
			}
		})
	}
}

// TestReadStopsWithItsContext: a read whose invocation is ending does not
// wait out its backoff.
func TestReadStopsWithItsContext(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(internalAnswer))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	sleep := func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "AKIDtest", SecretKey: secret.String("key")},
		Region: "ap-guangzhou", Endpoint: srv.URL, Now: time.Now, Sleep: sleep, NoPace: true})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Read(ctx, tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "DescribeDBInstances"}, struct{}{}, nil)
	if apierr.Code(err) != "InternalError" {
		t.Errorf("err = %v; want the read's own InternalError", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls after the context ended; want 1", calls.Load())
	}
}
