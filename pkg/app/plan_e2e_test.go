package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/function"
)

// Chat `plan`, through the deployed chat constructor over the emulator's
// default fleet: a user on the backup allowlist gets tonight's run in a
// few lines — as many backups as the nightly run then starts, the skips
// with their reasons — and nothing is started by asking; anyone else is
// refused before the fleet is listed.
func TestEndToEnd_ChatPlan(t *testing.T) {
	s := newStack(t, emulator.Options{}, map[string]string{
		"BACKUPFLOW_SLACK_SIGNING_SECRET": chatopstest.SlackSigningSecret,
		"BACKUPFLOW_CHAT_BACKUP_USERS":    "slack:alice",
	})
	h, err := chatapp.Handler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(user string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{ID: "plan-" + user, User: user, Text: "plan"}, time.Now()))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", user, rec.Code, rec.Body)
		}
		var answer struct{ Text string }
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s: %v in %s", user, err, rec.Body)
		}
		return answer.Text
	}

	if text := ask("mallory"); !strings.Contains(text, "not allowed") || strings.Contains(text, "backups") {
		t.Errorf("mallory's plan = %q; want a refusal", text)
	}
	text := ask("alice")
	if n := len(s.emu.Jobs()); n != 0 {
		t.Errorf("asking for the plan made %d cloud jobs; want none", n)
	}
	timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
	var rep function.Report
	if err := json.Unmarshal(s.invoke(s.create, timer), &rep); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("Tonight's nightly run: %d backups (huawei-rds 2, mongodb 3, mysql 3, sqlserver 3), %d skipped.", len(rep.Jobs), rep.Skipped),
		"Skipped cdb-ro000001: read-only replica", "Skipped cdb-iso00001: isolated", "Skipped mssql-cr8ating: creating", "backupflow plan"}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("alice's plan lacks %q:\n%s", w, text)
		}
	}
}
