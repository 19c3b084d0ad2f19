package chatops_test

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
)

// Every fuzz target checks two things: no panic on hostile input, and no
// acceptance of anything but what the secret actually signed.

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "backup cdb-c1nl9rpv physical", "<@U1> /dbbackup status 42",
		"@_user_1 import cos://b-1/k.bak to mssql-abcd1234", "confirm abc234", "import <s3://b/k|x> to cdb-",
		"backup\u3000cdb-c1nl9rpv", "&lt;@U1&gt;", "<>", "<<@>>", "@", "/backupflow", "plan", "plan tonight", "dead", "retention cdb-c1nl9rpv"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := chatops.ParseCommand(text)
		if err != nil {
			if !errors.Is(err, chatops.ErrUsage) {
				t.Fatalf("ParseCommand(%q) error %v does not wrap ErrUsage", text, err)
			}
			return
		}
		switch c.Verb {
		case "help", "status", "confirm", "dead", "plan":
		case "backup", "import", "retention":
			if c.Instance == "" || strings.ContainsAny(c.Instance, " \t\n") {
				t.Fatalf("ParseCommand(%q) = %+v: bad instance", text, c)
			}
		default:
			t.Fatalf("ParseCommand(%q) = unknown verb %q", text, c.Verb)
		}
		// Parsing is stable under re-normalisation of its own output.
		if chatops.Normalize(chatops.Normalize(text)) != chatops.Normalize(text) {
			t.Fatalf("Normalize is not idempotent on %q", text)
		}
	})
}

func FuzzVerifySlack(f *testing.F) {
	f.Add(slackTS, slackSig, []byte(slackBody))
	f.Add("", "v0=", []byte{})
	f.Add("-1", "v0=zz", []byte("ssl_check=1"))
	now := unix(slackTS)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(chatops.HeaderSlackTimestamp, ts)
		h.Set(chatops.HeaderSlackSignature, sig)
		err := chatops.VerifySlack(h, body, slackSecret, now)
		if err == nil && sig != chatops.SlackSignature(slackSecret, ts, body) &&
			!strings.EqualFold(sig, chatops.SlackSignature(slackSecret, ts, body)) {
			t.Fatalf("accepted %q over %q at %q", sig, body, ts)
		}
	})
}

func FuzzVerifyHook(f *testing.F) {
	f.Add("1795852800", "d-1", "sha256=bf36d39817d4781e400a28f3163b97bbef68b2d491074b422190f2acd4b966ba", []byte(`{"text":"help"}`))
	f.Add("", "", "", []byte{})
	now := time.Unix(1795852800, 0)
	f.Fuzz(func(t *testing.T, ts, id, sig string, body []byte) {
		h := http.Header{}
		h.Set(chatops.HeaderHookTimestamp, ts)
		h.Set(chatops.HeaderHookDelivery, id)
		h.Set(chatops.HeaderHubSignature, sig)
		if err := chatops.VerifyHook(h, body, "hook-secret", now); err == nil &&
			!strings.EqualFold(sig, chatops.HubSignature("hook-secret", chatops.HookPayload(ts, id, body))) {
			t.Fatalf("accepted %q", sig)
		}
	})
}

func FuzzVerifyDingTalk(f *testing.F) {
	f.Add("1795852800000", "z8cfzti5F9UpZGklbW6/i8w7S0AW69oREwVwOKXQhIQ=")
	f.Add("99999999999999999999", "")
	now := time.UnixMilli(1795852800000)
	f.Fuzz(func(t *testing.T, ts, sign string) {
		h := http.Header{}
		h.Set("timestamp", ts)
		h.Set("sign", sign)
		if err := chatops.VerifyDingTalk(h, "SECtestsecret0001", now); err == nil && sign != chatops.DingTalkSign("SECtestsecret0001", ts) {
			t.Fatalf("accepted %q for %q", sign, ts)
		}
	})
}

func FuzzVerifyFeishu(f *testing.F) {
	f.Add("1795852800", "nonce-1", "0712550eefa29b6b81768c50f9a1da5e7bfcb4750d663b8dafe4ce44ed4c6a3d", []byte(`{"encrypt":"abc"}`))
	now := time.Unix(1795852800, 0)
	f.Fuzz(func(t *testing.T, ts, nonce, sig string, body []byte) {
		h := http.Header{}
		h.Set(chatops.HeaderFeishuTimestamp, ts)
		h.Set(chatops.HeaderFeishuNonce, nonce)
		h.Set(chatops.HeaderFeishuSignature, sig)
		if err := chatops.VerifyFeishu(h, body, "feishu-key", now); err == nil &&
			!strings.EqualFold(sig, chatops.FeishuSignature(ts, nonce, "feishu-key", body)) {
			t.Fatalf("accepted %q", sig)
		}
	})
}

func FuzzVerifyWeCom(f *testing.F) {
	f.Add(wecomGetSig, wecomGetTS, wecomGetNon, wecomGetEch)
	f.Add(wecomPostSg, wecomPostTS, wecomPostNo, wecomPostEn)
	now := unix(wecomGetTS)
	f.Fuzz(func(t *testing.T, sig, ts, nonce, encrypt string) {
		if err := chatops.VerifyWeCom(sig, wecomToken, ts, nonce, encrypt, now); err == nil &&
			!strings.EqualFold(sig, chatops.WeComSignature(wecomToken, ts, nonce, encrypt)) {
			t.Fatalf("accepted %q", sig)
		}
	})
}

func FuzzDecryptWeCom(f *testing.F) {
	f.Add(wecomGetEch)
	f.Add(wecomPostEn)
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Fuzz(func(t *testing.T, encrypt string) {
		msg, rid, err := chatops.DecryptWeCom(wecomAESKey, encrypt)
		if err != nil && !errors.Is(err, chatops.ErrDecrypt) {
			t.Fatalf("DecryptWeCom error %v does not wrap ErrDecrypt", err)
		}
		if err == nil && len(msg)+len(rid)+20 > len(encrypt) {
			t.Fatalf("DecryptWeCom produced more than it was given")
		}
	})
}

func FuzzDecryptFeishu(f *testing.F) {
	f.Add("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
	f.Add("")
	f.Fuzz(func(t *testing.T, encrypt string) {
		if _, err := chatops.DecryptFeishu("test key", encrypt); err != nil && !errors.Is(err, chatops.ErrDecrypt) {
			t.Fatalf("DecryptFeishu error %v does not wrap ErrDecrypt", err)
		}
	})
}

var ciphertext = regexp.MustCompile(`([A-Za-z0-9+/]{40,}={0,2})`)

// FuzzHandler throws arbitrary bodies at every endpoint with valid-looking
// headers: never a panic, never a 5xx, never a job.
func FuzzHandler(f *testing.F) {
	for _, c := range sampleCases {
		s := chatopstest.NewSample(c.build())
		f.Add(s.Path, s.Body)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/") {
			return
		}
		fx := newFixture(t, chatopstest.Config(), chatopstest.SampleTime)
		for _, c := range sampleCases {
			s := chatopstest.NewSample(c.build())
			s.Body = body
			if !strings.Contains(path, "://") {
				s.Path = path
			}
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Skip("httptest rejected the request line")
					}
				}()
				r := s.Request()
				rec := fx.serve(r)
				if rec.Code >= 500 {
					t.Fatalf("%s %s = %d", s.Method, s.Path, rec.Code)
				}
			}()
		}
		if n := len(fx.jobs.enqueued()); n != 0 && body != "" {
			// Only the recorded bodies are signed; a fuzzed one must never
			// start a job unless it is byte-identical to a recorded sample.
			for _, c := range sampleCases {
				if chatopstest.NewSample(c.build()).Body == body {
					return
				}
			}
			// WeCom signs the ciphertext, not its envelope: any body that
			// carries a recorded ciphertext is as good as the recording.
			for _, c := range sampleCases {
				if m := ciphertext.FindStringSubmatch(chatopstest.NewSample(c.build()).Body); m != nil && strings.Contains(body, m[1]) {
					return
				}
			}
			// DingTalk signs only the timestamp: a body naming our robot
			// with a fresh msgId is accepted by design (see package doc).
			if strings.Contains(body, chatopstest.DingTalkRobotCode) {
				return
			}
			t.Fatalf("fuzzed body started %d jobs: %q", n, body)
		}
	})
}
