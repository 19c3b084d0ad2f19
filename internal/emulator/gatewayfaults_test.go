package emulator_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// TestGatewayFaultsOverTheWire sends a create through the official SDK to
// the emulator while it answers as a broken gateway would, and checks what
// the client makes of it (issue 13 items 7 and 8): a 429 or 503 was
// refused and retries later; a 502 or an answer that does not decode may
// have run, so it is looked up before the retry; an answer of exactly
// `null` panicked inside the SDK and killed the drain batch.
func TestGatewayFaultsOverTheWire(t *testing.T) {
	for _, tc := range []struct {
		fault  fault.Kind
		kind   apierr.Kind
		status int
	}{
		{fault.GatewayThrottle, apierr.RetryLater, 429},
		{fault.ServerError, apierr.RetryLater, 503},
		{fault.GatewayBadGateway, apierr.RetryAfterLookup, 502},
		{fault.Null, apierr.RetryAfterLookup, 200},
		{fault.Drop, apierr.RetryAfterLookup, 0},
		{fault.InternalError, apierr.RetryAfterLookup, 200},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			faults := fault.New(0, 1)
			emu, err := emulator.New(emulator.Options{DisableRateLimits: true, Faults: faults})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(emu)
			defer srv.Close()
			c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: emulator.DefaultSecretID,
				SecretKey: secret.String(emulator.DefaultSecretKey)}, Region: "ap-guangzhou", Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			faults.Force(tc.fault, tc.fault) // both halves of an "applied first" fault
			var resp struct{ BackupId int64 }
			err = func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Call panicked: %v", r)
					}
				}()
				return c.Call(context.Background(), tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "CreateBackup"},
					map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical"}, &resp)
			}()
			if err == nil {
				t.Fatalf("no error (resp %+v)", resp)
			}
			if k := apierr.KindOf(err); k != tc.kind {
				t.Errorf("kind = %v; want %v (%v)", k, tc.kind, err)
			}
			var ae *apierr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("%v is not an *apierr.Error", err)
			}
			if ae.HTTPStatus != tc.status {
				t.Errorf("HTTPStatus = %d; want %d (%v)", ae.HTTPStatus, tc.status, err)
			}
		})
	}
}
