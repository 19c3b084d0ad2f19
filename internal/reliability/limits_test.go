package reliability

import (
	"context"
	"errors"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/notify"
)

// TestLimits drives each size limit through the public API: over it, the
// caller gets a clear error (or a truncated text), never a crash, and
// nothing is half-done.
func TestLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system")
	}
	s := newStack(t, stackOptions{emu: emulator.Options{}, env: map[string]string{"BACKUPFLOW_MAX_TARGETS": "2"}})
	ctx := context.Background()
	sk := newSink(t, "limits-signing")
	hook, err := notify.Parse(sk.spec("/hook"), nil)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := chatapp.New(s.app, chatopstest.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("é", 1<<20) // 2 MiB of two-byte runes

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"event over MaxPayloadBytes", func(t *testing.T) {
			_, err := event.Decode([]byte(`"` + strings.Repeat("a", event.MaxPayloadBytes) + `"`))
			if !errors.Is(err, event.ErrTooLarge) {
				t.Errorf("err = %v; want ErrTooLarge", err)
			}
			if _, err := s.create(ctx, []byte(strings.Repeat(" ", event.MaxPayloadBytes+1))); err == nil {
				t.Error("create-backup accepted an oversized event")
			}
		}},
		{"job envelope over MaxSize", func(t *testing.T) {
			m := job.Message{JobID: "jbig", Step: job.StepCreate}
			m.Spec.Databases = []string{strings.Repeat("d", job.MaxSize)}
			if _, err := m.Encode(); err == nil || !strings.Contains(err.Error(), "limit") {
				t.Errorf("Encode err = %v; want the size limit", err)
			}
			if _, err := job.Decode([]byte(`{"v":1,"job":"` + strings.Repeat("x", job.MaxSize) + `","step":"create"}`)); !errors.Is(err, job.ErrMalformed) {
				t.Errorf("Decode err = %v; want ErrMalformed", err)
			}
		}},
		{"chat webhook body over MaxBodyBytes", func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(strings.Repeat("a", 64<<10+1)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			chatopstest.SignSlack(r, chatopstest.SlackSigningSecret, s.clk.Now())
			w := httptest.NewRecorder()
			chat.ServeHTTP(w, r)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d; want 413", w.Code)
			}
		}},
		{"fan-out over MaxTargets", func(t *testing.T) {
			timer := `{"Type":"Timer","TriggerName":"nightly","Time":"2026-11-23T18:00:00Z","Message":""}`
			_, err := s.create(ctx, []byte(timer))
			if err == nil || !strings.Contains(err.Error(), "BACKUPFLOW_MAX_TARGETS") || !strings.Contains(err.Error(), "nothing was started") {
				t.Errorf("err = %v; want the limit named and nothing started", err)
			}
			if v, i, d := s.emu.CMQ.Stats("backupflow-work"); v+i+d != 0 {
				t.Errorf("%d create steps sent past the limit", v+i+d)
			}
		}},
		{"notification text truncated", func(t *testing.T) {
			err := hook.Send(ctx, notify.Message{Level: notify.Failure, Title: huge, Text: huge, JobID: "jbig",
				Fields: []notify.Field{{Name: "Detail", Value: huge}}})
			if err != nil {
				t.Fatal(err)
			}
			p := sk.payloads()
			if len(p) != 1 {
				t.Fatalf("%d posts; want 1", len(p))
			}
			if len(p[0].Title) > 1024 || len(p[0].Text) > 16<<10 || len(p[0].Fields[0].Value) > 2048 {
				t.Errorf("sizes title %d, text %d, field %d; want ≤ 1 KiB, 16 KiB, 2 KiB", len(p[0].Title), len(p[0].Text), len(p[0].Fields[0].Value))
			}
			if !utf8.ValidString(p[0].Title + p[0].Text + p[0].Fields[0].Value) {
				t.Error("truncation split a rune")
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}
