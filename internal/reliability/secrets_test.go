// Uses the COS store, which Lambda builds leave out.

//go:build !lambda.norpc

package reliability

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/cosstore"
	"github.com/backupflow/backupflow/pkg/provider/huaweirds"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// Known secrets: each is configured somewhere in the run below and must
// appear in no output.
const (
	knownSecretKey    = "KNOWN-cloud-secret-key-4242"
	knownSessionToken = "KNOWN-session-token-4242"
	knownHookToken    = "KNOWN-webhook-path-token-4242"
	knownHookSigning  = "KNOWN-webhook-signing-4242"
)

// TestSecretsNeverLeak runs the demo's day — the nightly run, an upload
// import and a signed chat command, under 20 % faults so error paths run
// too, at debug log level — with known credentials, a session token, a
// webhook whose URL and signing key are secret, and the chat platforms'
// signing secrets. It scans every output: JSON logs, print: notifications,
// webhook bodies, chat replies and returned errors.
func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system")
	}
	inj := fault.New(0.2, 42)
	inj.SlowDelay = time.Millisecond
	sk := newSink(t, knownHookSigning)
	s := newStack(t, stackOptions{
		emu: emulator.Options{SecretID: "AKIDknownsecretid4242", SecretKey: knownSecretKey, Faults: inj, Seed: 42},
		env: map[string]string{
			"BACKUPFLOW_NOTIFY":    sk.spec("/hook/"+knownHookToken) + ",print:",
			"BACKUPFLOW_LOG_LEVEL": "debug",
			// The SCF execution role's variables, token included, win over
			// the static pair.
			"TENCENTCLOUD_SECRETID": "AKIDknownsecretid4242", "TENCENTCLOUD_SECRETKEY": knownSecretKey,
			"TENCENTCLOUD_SESSIONTOKEN": knownSessionToken,
		},
	})
	ctx := context.Background()
	var errs []string
	call := func(what string, f func() error) {
		for range 50 {
			err := f()
			if err == nil {
				return
			}
			errs = append(errs, err.Error())
			s.clk.Set(s.clk.Now().Add(2 * time.Second))
		}
		t.Fatalf("%s kept failing; last errors: %v", what, errs[len(errs)-1])
	}
	timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
	call("nightly", func() error { _, err := s.create(ctx, []byte(timer)); return err })
	const etag = "5d41402abc4b2a76b9719d911017c592"
	if err := s.emu.COS.PutAs("backups-1250000000", "imports/mssql-rdc0gajn/orders.bak", append([]byte("TAPE"), make([]byte, 1020)...), etag); err != nil {
		t.Fatal(err)
	}
	ev := cosPutEvent("imports/mssql-rdc0gajn/orders.bak", etag)
	call("import", func() error { _, err := s.mig(ctx, []byte(ev)); return err })

	chat, err := chatapp.New(s.app, chatopstest.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var replies strings.Builder
	for i, text := range []string{"backup cdb-c1nl9rpv", "backup cmgo-f4il0001", "status"} {
		w := httptest.NewRecorder()
		chat.ServeHTTP(w, chatopstest.Slack(chatopstest.Message{ID: "m" + string(rune('a'+i)), Text: text}, s.clk.Now()))
		replies.WriteString(w.Body.String() + "\n")
	}
	s.runUntilQuiet(1, 48*time.Hour)
	if len(sk.payloads()) == 0 {
		t.Fatal("no notification reached the webhook; the scan would prove nothing")
	}
	if !strings.Contains(s.out.String(), `"level":"DEBUG"`) && !strings.Contains(s.out.String(), `"level":"INFO"`) {
		t.Fatal("no log lines captured; the scan would prove nothing")
	}

	outputs := map[string]string{
		"logs and print: notifications": s.out.String(),
		"webhook bodies":                sk.raw.String(),
		"chat replies":                  replies.String(),
		"returned errors":               strings.Join(errs, "\n"),
	}
	forbidden := []string{knownSecretKey, knownSessionToken, knownHookToken, knownHookSigning,
		url.QueryEscape(knownHookSigning), "q-signature=", "X-Amz-Signature=",
		chatopstest.SlackSigningSecret, chatopstest.HookSecret, chatopstest.FeishuEncryptKey,
		chatopstest.WeComEncodingAESKey, chatopstest.DingTalkAppSecret}
	for name, text := range outputs {
		for _, f := range forbidden {
			if i := strings.Index(text, f); i >= 0 {
				t.Errorf("%s contain %q: …%s…", name, f, text[max(0, i-200):min(len(text), i+len(f)+50)])
			}
		}
	}
}

// TestConfigErrorsNameVariablesNotValues: a bad or missing setting is
// reported by its variable's name; the value, which may be a credential
// pasted into the wrong variable, is never echoed.
func TestConfigErrorsNameVariablesNotValues(t *testing.T) {
	const leaked = "KNOWN-misplaced-secret-4242"
	for _, tc := range []struct {
		name, variable string
		env            map[string]string
		load           func(getenv func(string) string) error
	}{
		{"config: number", "BACKUPFLOW_MAX_TARGETS", map[string]string{"BACKUPFLOW_MAX_TARGETS": leaked}, loadConfig},
		{"config: duration", "BACKUPFLOW_PRESIGN_TTL", map[string]string{"BACKUPFLOW_PRESIGN_TTL": leaked}, loadConfig},
		{"config: targets", "BACKUPFLOW_TARGETS", map[string]string{"BACKUPFLOW_TARGETS": "[" + leaked}, loadConfig},
		{"config: notify mode", "BACKUPFLOW_NOTIFY_MODE", map[string]string{"BACKUPFLOW_NOTIFY_MODE": leaked}, loadConfig},
		{"tencent: key without id", "TENCENTCLOUD_SECRET_ID", map[string]string{"TENCENTCLOUD_SECRET_KEY": leaked},
			func(g func(string) string) error { _, err := tencent.CredentialsFromEnv(g); return err }},
		{"huawei: sk without ak", huaweirds.EnvAK, map[string]string{huaweirds.EnvSK: leaked},
			func(g func(string) string) error { _, err := huaweirds.ConfigFromEnv(g); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			err := tc.load(getenv)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.variable) {
				t.Errorf("error %q does not name %s", err, tc.variable)
			}
			if strings.Contains(err.Error(), leaked) || strings.Contains(err.Error(), "KNOWN") {
				t.Errorf("error echoes the value: %q", err)
			}
		})
	}
}

// loadConfig runs config.Load over exactly these variables.
func loadConfig(getenv func(string) string) error {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "BACKUPFLOW_") {
			os.Unsetenv(k)
		}
	}
	for _, k := range []string{"BACKUPFLOW_MAX_TARGETS", "BACKUPFLOW_PRESIGN_TTL", "BACKUPFLOW_TARGETS", "BACKUPFLOW_NOTIFY_MODE"} {
		if v := getenv(k); v != "" {
			os.Setenv(k, v)
			defer os.Unsetenv(k)
		}
	}
	_, err := config.Load()
	return err
}

// TestPresignedURLsAreShortLived: whatever TTL is configured, a presigned
// import URL expires within objstore.MaxPresignTTL (2 h).
func TestPresignedURLsAreShortLived(t *testing.T) {
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	c, err := cosstore.New(cosstore.Config{Credentials: tencent.Credentials{SecretID: "AKIDx", SecretKey: secret.String("k")},
		Region: "ap-guangzhou", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if objstore.MaxPresignTTL > 2*time.Hour {
		t.Fatalf("MaxPresignTTL = %s; want at most 2h", objstore.MaxPresignTTL)
	}
	for _, ttl := range []time.Duration{0, time.Minute, time.Hour, 2 * time.Hour, 24 * time.Hour, 365 * 24 * time.Hour} {
		u, err := c.Presign(context.Background(), "backups-1250000000", "imports/x.bak", ttl)
		if err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(u)
		start, end, ok := strings.Cut(pu.Query().Get("q-sign-time"), ";")
		if !ok {
			t.Fatalf("ttl %s: no q-sign-time in %s", ttl, pu.Redacted())
		}
		a, err1 := strconv.ParseInt(start, 10, 64)
		b, err2 := strconv.ParseInt(end, 10, 64)
		if err1 != nil || err2 != nil || a > now.Unix() {
			t.Fatalf("ttl %s: q-sign-time %q", ttl, pu.Query().Get("q-sign-time"))
		}
		if life := time.Duration(b-now.Unix()) * time.Second; life > objstore.MaxPresignTTL || life <= 0 {
			t.Errorf("ttl %s: URL valid until now+%s; want within (0, %s]", ttl, life, objstore.MaxPresignTTL)
		}
	}
}
