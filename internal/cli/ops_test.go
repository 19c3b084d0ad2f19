package cli

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// emulatorEnv starts an emulator and points the environment at it.
func emulatorEnv(t *testing.T) *emulator.Emulator {
	t.Helper()
	return emulatorEnvWith(t, emulator.Options{})
}

// emulatorEnvWith is emulatorEnv with o (a fleet of its own, say).
func emulatorEnvWith(t *testing.T, o emulator.Options) *emulator.Emulator {
	t.Helper()
	o.JobDuration = 1500 * time.Millisecond
	emu, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	env := emu.Env(srv.URL)
	maps.Copy(env, map[string]string{"BACKUPFLOW_FIRST_POLL": "1s", "BACKUPFLOW_POLL_MIN": "1s", "BACKUPFLOW_LOG_LEVEL": "warn",
		"BACKUPFLOW_LEDGER": "mem://" + t.Name()})
	for k, v := range env {
		t.Setenv(k, v)
	}
	return emu
}

func run(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestBackupWait(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emulatorEnv(t)
	// mssql-rdc0gajn is not tagged for discovery: its lookup finds it running.
	for _, id := range []string{"cdb-c1nl9rpv", "d8e6ca5a624745bcb546a227aa3ae1cfin04", "mssql-rdc0gajn"} {
		code, out, errs := run(t, getenvOS, "backup", "--instance", id, "--wait", "--timeout", "1m")
		if code != ExitOK || !strings.Contains(out, "succeeded") {
			t.Errorf("backup %s --wait = %d\nstdout:\n%s\nstderr:\n%s", id, code, out, errs)
		}
		code, out, errs = run(t, getenvOS, "status", "--instance", id)
		if code != ExitOK || !strings.Contains(out, "backup "+id+"): succeeded") {
			t.Errorf("status --instance %s = %d\nstdout:\n%s\nstderr:\n%s", id, code, out, errs)
		}
	}
}

// The product options reach the cloud: the emulator records what the
// create asked for.
func TestBackupOptionsWait(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emu := emulatorEnv(t)
	for _, tc := range []struct {
		args []string
		want string
		jobs func() []fixture.Job
	}{
		{[]string{"--instance", "mssql-i1z41iwd", "--keep-until-gone"}, "StorageStrategy=1", emu.Tencent.Jobs},
		{[]string{"--instance", "cmgo-ayxpky6l", "--retention-days", "-2"}, "BackupRetentionDays=-2", emu.Tencent.Jobs},
		{[]string{"--instance", "d8e6ca5a624745bcb546a227aa3ae1cfin04", "--databases", "db1,db2", "--individually"}, "backup_database_individually", emu.Huawei.Jobs},
	} {
		args := append(append([]string{"backup"}, tc.args...), "--wait", "--timeout", "1m")
		if code, out, errs := run(t, getenvOS, args...); code != ExitOK {
			t.Errorf("%v = %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
			continue
		}
		found := false
		for _, j := range tc.jobs() {
			found = found || j.InstanceID == tc.args[1] && slices.Contains(j.Settings, tc.want)
		}
		if !found {
			t.Errorf("%v: no backup of %s with %s: %+v", args, tc.args[1], tc.want, tc.jobs())
		}
	}
}

func TestImportWait(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emu := emulatorEnv(t)
	if err := emu.COS.Put("backups-1250000000", "manual/orders.bak", append([]byte("MSSQLBAK"), make([]byte, 64)...)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, getenvOS, "import", "--object", "cos://backups-1250000000/manual/orders.bak",
		"--instance", "mssql-rdc0gajn", "--wait", "--timeout", "1m")
	if code != ExitOK {
		t.Fatalf("import --wait = %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if strings.Contains(out+errs, "q-signature") {
		t.Errorf("a presigned URL reached the output")
	}
}

func TestOpsErrors(t *testing.T) {
	tests := []struct {
		name string
		env  bool
		args []string
		code int
		want string
	}{
		{"help", false, []string{"backup", "--help"}, ExitOK, "usage: backupflow backup"},
		{"missing instance", false, []string{"backup"}, ExitUsage, "--instance is required"},
		{"no credentials", false, []string{"backup", "--instance", "cdb-c1nl9rpv", "--wait"}, ExitConfig, "TENCENTCLOUD_SECRET_ID"},
		{"bad instance id", true, []string{"backup", "--instance", "cdb-!!", "--wait"}, ExitUsage, "instance id"},
		{"option of another product", true, []string{"backup", "--instance", "cdb-c1nl9rpv", "--retention-days", "30", "--wait"}, ExitUsage, "mongodb option"},
		{"method on sqlserver", true, []string{"backup", "--instance", "mssql-rdc0gajn", "--method", "physical", "--wait"}, ExitUsage, "method"},
		{"databases on mysql", true, []string{"backup", "--instance", "cdb-c1nl9rpv", "--databases", "a,b", "--wait"}, ExitUsage, "databases"},
		{"databases on mongodb", true, []string{"backup", "--instance", "cmgo-ayxpky6l", "--databases", "a", "--wait"}, ExitUsage, "databases"},
		{"method on huawei", true, []string{"backup", "--instance", "d8e6ca5a624745bcb546a227aa3ae1cfin04", "--method", "logical", "--wait"}, ExitUsage, "method"},
		{"retention out of range", true, []string{"backup", "--instance", "cmgo-ayxpky6l", "--retention-days", "9000", "--wait"}, ExitUsage, "retention days"},
		{"no deployed queue", true, []string{"backup", "--instance", "cdb-c1nl9rpv"}, ExitConfig, "BACKUPFLOW_WORK_QUEUE"},
		{"unknown job", true, []string{"status", "jdoesnotexist"}, ExitUsage, "no job jdoesnotexist in mem://"},
		{"unknown command", false, []string{"frobnicate"}, ExitUsage, "unknown command"},
		// Was taken for info: a typo silently changed nothing.
		{"unknown run", true, []string{"report", "--run", "nightly-19990101T0000Z"}, ExitUsage, "run nightly-19990101T0000Z: not in the ledger"},
		{"unknown log level", false, []string{"--log-level", "loud", "backup", "--instance", "cdb-c1nl9rpv", "--wait"}, ExitUsage, "--log-level must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env {
				emulatorEnv(t)
			} else {
				for _, k := range []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY"} {
					t.Setenv(k, "")
				}
			}
			code, out, errs := run(t, getenvOS, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("%v = %d, output %q; want %d containing %q", tt.args, code, out+errs, tt.code, tt.want)
			}
		})
	}
}

// TestImportRerun: an import that failed (its file was not there yet) is
// run again on purpose with --rerun, as a new job that imports the file now
// in place; a job that is unknown or not an import is refused.
func TestImportRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs in real time")
	}
	emu := emulatorEnv(t)
	// `import` now refuses a missing object before any job exists, so the
	// failed import (its file deleted between the check and the start) is
	// made past that check, by the step runJob takes after it.
	var ob, eb bytes.Buffer
	req := flow.Request{ID: []string{"test", "late", nonce()}, Op: provider.Import, Instance: "mssql-rdc0gajn",
		Object: "cos://backups-1250000000/manual/late.bak", Origin: job.Origin{Source: "cli"}}
	code := runJob(context.Background(), envWithLog(Env{Stdout: &ob, Stderr: &eb, Getenv: getenvOS}, "text", "warn"), req, true, time.Minute)
	out, errs := ob.String(), eb.String()
	if code != ExitFailed {
		t.Fatalf("import of a missing file = %d; want %d (failed)\nstdout:\n%s\nstderr:\n%s", code, ExitFailed, out, errs)
	}
	first := jobIDOf(t, out)
	if err := emu.COS.Put("backups-1250000000", "manual/late.bak", append([]byte("MSSQLBAK"), make([]byte, 64)...)); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, getenvOS, "import", "--rerun", first, "--wait", "--timeout", "1m")
	if code != ExitOK || !strings.Contains(out, "rerun of job "+first) {
		t.Fatalf("import --rerun %s = %d\nstdout:\n%s\nstderr:\n%s", first, code, out, errs)
	}
	if second := jobIDOf(t, out); second == first {
		t.Errorf("the rerun reused job %s; want a new job", first)
	}
	code, out, errs = run(t, getenvOS, "backup", "--instance", "cdb-c1nl9rpv", "--wait", "--timeout", "1m")
	if code != ExitOK {
		t.Fatalf("backup = %d\n%s%s", code, out, errs)
	}
	for _, tc := range []struct{ job, want string }{
		{"jdoesnotexist", "no job jdoesnotexist"},
		{jobIDOf(t, out), "not an import"},
	} {
		if code, out, errs := run(t, getenvOS, "import", "--rerun", tc.job); code != ExitUsage || !strings.Contains(out+errs, tc.want) {
			t.Errorf("import --rerun %s = %d, %q; want %d with %q", tc.job, code, out+errs, ExitUsage, tc.want)
		}
	}
}

// jobIDOf reads the id from "job <id>: <op> <instance> queued".
func jobIDOf(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if id, rest, ok := strings.Cut(strings.TrimPrefix(line, "job "), ": "); ok && strings.HasPrefix(line, "job ") && strings.HasSuffix(rest, "queued") {
			return id
		}
	}
	t.Fatalf("no job id in:\n%s", out)
	return ""
}

// TestReportWithoutALedger: with BACKUPFLOW_LEDGER unset and no local stack
// here, report says what to set (exit 3). It read the configuration's
// mem:// default, always empty, and answered "no nightly run" (exit 4)
// even after a night had run in the local stack.
func TestReportWithoutALedger(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("BACKUPFLOW_LEDGER", "")
	code, out, errs := run(t, getenvOS, "report")
	if code != ExitConfig || !strings.Contains(errs, "BACKUPFLOW_LEDGER is not set") {
		t.Fatalf("report = %d\n%s%s; want exit %d naming BACKUPFLOW_LEDGER", code, out, errs, ExitConfig)
	}
}
