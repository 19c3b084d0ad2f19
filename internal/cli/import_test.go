package cli

import (
	"strings"
	"testing"
)

// import checks the object before it creates anything: a missing object, a
// file that is not a SQL Server backup and a local path are refused with a
// hint, and no job is queued (issue 16 item 2).
func TestImportChecksTheObjectFirst(t *testing.T) {
	emu := emulatorEnv(t)
	if err := emu.COS.Put("backups-1250000000", "manual/zipped.bak", []byte("PK\x03\x04zipzipzip")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		object string
		want   string
	}{
		{"cos://backups-1250000000/manual/absent.bak", "no object cos://backups-1250000000/manual/absent.bak"},
		{"cos://backups-1250000000/manual/zipped.bak", "a zip archive"},
		{"/some/local/x.bak", "is a local path"},
		{"./x.bak", "is a local path"},
	} {
		code, out, errs := run(t, getenvOS, "import", "--object", tc.object, "--instance", "mssql-rdc0gajn", "--wait", "--timeout", "1m")
		if code != ExitUsage || !strings.Contains(errs, tc.want) || strings.Contains(out, "queued") {
			t.Errorf("import %s = %d; want %d saying %q and no job\nstdout:\n%s\nstderr:\n%s", tc.object, code, ExitUsage, tc.want, out, errs)
		}
	}
}
