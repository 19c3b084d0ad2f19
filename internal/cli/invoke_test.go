package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

// TestInvokeEverySample runs every sample payload through its function
// against an in-process emulator, on the platform its name says, to the
// outcome events/outcomes.json writes beside the samples.
func TestInvokeEverySample(t *testing.T) {
	files, err := filepath.Glob("../../events/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	raw, err := os.ReadFile("../../events/outcomes.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("events/outcomes.json: %v", err)
	}
	for _, f := range files {
		fn := filepath.Base(filepath.Dir(f))
		name := fn + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			var exp struct {
				Exit   int    `json:"exit"`
				Output string `json:"output"`
			}
			if err := json.Unmarshal(want[name], &exp); err != nil || exp.Output == "" {
				t.Fatalf("events/outcomes.json has no outcome for %s (%v)", name, err)
			}
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"invoke", fn, "--event", f, "--serverless", "../../serverless.yml"}, &out, &errb, noEnv)
			if code != exp.Exit || !strings.Contains(out.String(), exp.Output) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, exp.Exit, exp.Output, &out, &errb)
			}
			if !strings.HasPrefix(out.String(), "result:\n") || !strings.Contains(out.String(), "messages sent:\n") {
				t.Errorf("output lacks the result or the messages:\n%s", &out)
			}
		})
	}
}

func TestInvokeShowsSentMessages(t *testing.T) {
	for _, platform := range []string{"scf", "aws"} {
		t.Run(platform, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"invoke", "create-backup", "--event", "../../events/create-backup/scf-timer.json",
				"--platform", platform, "--serverless", "../../serverless.yml"}, &out, &errb, noEnv)
			if code != ExitOK {
				t.Fatalf("exit %d\n%s%s", code, &out, &errb)
			}
			// The default fleet's running, tagged Tencent instances: 3 cdb, 3 sqlserver, 3 mongodb.
			if n := strings.Count(out.String(), "  work: "); n != 9 {
				t.Errorf("%d create steps shown, want 9:\n%s", n, &out)
			}
			if !strings.Contains(errb.String(), "("+platform+" delivery)") {
				t.Errorf("delivery not named: %s", &errb)
			}
		})
	}
}

func TestInvokeUsage(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "e.json")
	if err := os.WriteFile(tmp, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"invoke", "--help"}, ExitOK, "usage: backupflow invoke"},
		{[]string{"invoke"}, ExitUsage, "give a function and --event FILE"},
		{[]string{"invoke", "nosuch", "--event", tmp}, ExitUsage, "unknown function"},
		{[]string{"invoke", "poll-status", "--event", tmp, "--platform", "gcp"}, ExitUsage, "scf or aws"},
		{[]string{"invoke", "poll-status", "--event", "/nonexistent.json"}, ExitUsage, "no such file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Run(context.Background(), tc.args, &out, &errb, noEnv); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(out.String()+errb.String(), tc.say) {
				t.Errorf("output lacks %q:\n%s%s", tc.say, &out, &errb)
			}
		})
	}
}

// TestInvokeRejectsWhatTheFunctionDoesNotAccept: payloads that once became
// a nightly run (the catch-all) now exit 1, name what arrived and what is
// accepted, and send nothing.
func TestInvokeRejectsWhatTheFunctionDoesNotAccept(t *testing.T) {
	for _, tc := range []struct {
		name, fn, payload, say string
	}{
		{"hello world", "create-backup", `{"hello":"world"}`, `a JSON object with keys "hello"`},
		{"lambda console test event", "create-backup", `{"key1":"value1","key2":"value2","key3":"value3"}`, `keys "key1", "key2", "key3"`},
		{"empty object", "create-backup", `{}`, "an empty JSON object"},
		{"function url request", "create-backup", `{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"POST"}},"body":""}`, "http-request"},
		{"selection typo", "create-backup", `{"Type":"Timer","TriggerName":"nightly","Message":"{\"target\":[\"cdb-c1nl9rpv\"]}"}`, `unknown field "target"`},
		{"nightly timer to poll-status", "poll-status", `{"Type":"Timer","TriggerName":"nightly","Message":""}`, "scf-timer"},
		{"timer to chatops", "chatops", `{"Type":"Timer","TriggerName":"nightly","Message":""}`, "got a scf-timer event; it accepts http-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "scf-event.json")
			if err := os.WriteFile(f, []byte(tc.payload), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"invoke", tc.fn, "--event", f, "--serverless", "../../serverless.yml"}, &out, &errb, noEnv)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if all := out.String() + errb.String(); !strings.Contains(all, tc.say) {
				t.Errorf("output lacks %q:\n%s", tc.say, all)
			}
			if strings.Contains(out.String(), "  work: ") || strings.Contains(out.String(), "  poll: ") {
				t.Errorf("a rejected event sent messages:\n%s", &out)
			}
		})
	}
}
