package app_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/provider"
)

// cosEventFor is the COS sample event re-aimed at one upload of key with
// the ETag COS gave that upload.
func cosEventFor(t *testing.T, etag string) string {
	t.Helper()
	ev, err := os.ReadFile("../../events/start-migration/scf-cos-put.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(ev, &doc); err != nil {
		t.Fatal(err)
	}
	meta := doc["Records"].([]any)[0].(map[string]any)["cos"].(map[string]any)["cosObject"].(map[string]any)["meta"].(map[string]any)
	meta["ETag"] = `"` + etag + `"`
	b, _ := json.Marshal(doc)
	return string(b)
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// TestEndToEnd_ImportIsPinnedToItsUpload (issue 13 item 9): orders.bak is
// uploaded, then replaced, and COS delivers the first upload's event after
// the replacement (events are late and out of order). The first job is
// keyed by the first upload's ETag but the key now holds other bytes: it
// fails with "object changed" instead of importing the replacement, and
// the replacement's own job imports it — one import in all. Was: both
// jobs imported the replacement.
func TestEndToEnd_ImportIsPinnedToItsUpload(t *testing.T) {
	s := newStack(t, emulator.Options{}, nil)
	const bucket, key = "backups-1250000000", "imports/mssql-rdc0gajn/orders.bak"
	first := append([]byte("TAPE"), make([]byte, 1020)...)
	second := append([]byte("TAPE"), make([]byte, 2044)...)
	if err := s.emu.COS.Put(bucket, key, first); err != nil {
		t.Fatal(err)
	}
	if err := s.emu.COS.Put(bucket, key, second); err != nil {
		t.Fatal(err)
	}
	var a, b function.Report
	if err := json.Unmarshal(s.invoke(s.mig, cosEventFor(t, md5hex(first))), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(s.invoke(s.mig, cosEventFor(t, md5hex(second))), &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Jobs) != 1 || len(b.Jobs) != 1 || a.Jobs[0] == b.Jobs[0] {
		t.Fatalf("jobs %v and %v; want one per upload", a.Jobs, b.Jobs)
	}
	s.runFor(2*time.Hour, func() bool { return strings.Count(s.out.String(), "Import of") == 2 })
	_, oa, err := s.app.Service.State(t.Context(), a.Jobs[0])
	if err != nil || oa == nil || oa.Result != "failed" || !strings.Contains(oa.Message, "object changed") {
		t.Errorf("first upload's job: %+v, %v; want failed: object changed", oa, err)
	}
	_, ob, err := s.app.Service.State(t.Context(), b.Jobs[0])
	if err != nil || ob == nil || ob.Result != "succeeded" {
		t.Errorf("replacement's job: %+v, %v; want succeeded", ob, err)
	}
	imports := 0
	for _, j := range s.emu.Jobs() {
		if j.Op == provider.Import {
			imports++
		}
	}
	if imports != 1 {
		t.Errorf("imports in the emulator = %d; want 1 (the replacement, once)", imports)
	}
}
