package app_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
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

// TestEndToEnd_ImportRunAgainOnPurpose: uploading identical bytes again
// keeps the ETag, so the event names the same job and is dropped as a
// duplicate — right for a redelivered event. A user who wants the import
// done again asks in chat (`import <object> to <instance>`, confirmed):
// a chat command is its own job, not pinned, and imports the file again.
// (`backupflow import --rerun JOB` is the CLI's way: internal/cli
// TestImportRerun.)
func TestEndToEnd_ImportRunAgainOnPurpose(t *testing.T) {
	sk := newSink(t)
	env := map[string]string{}
	for plat, v := range app.ReplyVariables {
		env[v] = "webhook:" + sk.srv.URL + "/" + plat
	}
	s := newStack(t, emulator.Options{}, env)
	const bucket, key, instance = "backups-1250000000", "imports/mssql-rdc0gajn/orders.bak", "mssql-rdc0gajn"
	data := append([]byte("TAPE"), make([]byte, 1020)...)
	imports := func() int {
		n := 0
		for _, j := range s.emu.Jobs() {
			if j.Op == provider.Import && j.InstanceID == instance && j.State == provider.Succeeded {
				n++
			}
		}
		return n
	}
	for upload := range 2 { // the same bytes uploaded twice
		if err := s.emu.COS.Put(bucket, key, data); err != nil {
			t.Fatal(err)
		}
		s.invoke(s.mig, cosEventFor(t, md5hex(data)))
		s.runFor(time.Hour, func() bool { return imports() >= 1 })
		if n := imports(); n != 1 {
			t.Fatalf("after upload %d: %d imports; want 1 (identical bytes, one job)", upload+1, n)
		}
	}
	h, err := chatapp.New(s.app, chatopstest.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	say := func(id, text string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{ID: id, Text: text}, s.clk.Now()))
		if rec.Code != http.StatusOK {
			t.Fatalf("%q: status %d %s", text, rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
	ask := say("m-import", "import cos://"+bucket+"/"+key+" to "+instance)
	code := regexp.MustCompile(`confirm ([A-Za-z0-9-]+)`).FindStringSubmatch(ask)
	if code == nil {
		t.Fatalf("import reply %q asks for no confirmation", ask)
	}
	say("m-confirm", "confirm "+code[1])
	s.runFor(time.Hour, func() bool { return imports() >= 2 })
	if n := imports(); n != 2 {
		t.Errorf("imports after the chat command: %d; want 2", n)
	}
}
