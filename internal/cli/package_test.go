package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeDist lays out what `make build` writes, with small stand-in binaries.
func fakeDist(t *testing.T, dir string, fns []string) {
	t.Helper()
	for _, fn := range fns {
		for _, p := range []string{filepath.Join(dir, "scf", fn, "main"), filepath.Join(dir, "aws", fn, "bootstrap")} {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("\x7fELF binary of "+p[len(dir):]), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
}

const testServerless = `component: multi-scf
inputs:
  functions:
    create-backup: {src: ./create-backup, handler: main}
    chatops: {src: ./chatops, type: web, handler: scf_bootstrap}
`

func runPackageIn(t *testing.T, dir string, extraEnv map[string]string) (string, int) {
	t.Helper()
	sls := filepath.Join(dir, "serverless.yml")
	if err := os.WriteFile(sls, []byte(testServerless), 0o644); err != nil {
		t.Fatal(err)
	}
	fnDir := filepath.Join(dir, "functions")
	if err := os.MkdirAll(filepath.Join(fnDir, "chatops"), 0o755); err != nil {
		t.Fatal(err)
	}
	boot, err := os.ReadFile(filepath.Join("..", "..", "functions", "chatops", "scf_bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fnDir, "chatops", "scf_bootstrap"), boot, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return extraEnv[k] }
	code := Run(context.Background(), []string{"package", "--dist", filepath.Join(dir, "dist"), "--serverless", sls,
		"--functions", fnDir}, &stdout, &stderr, getenv)
	if code != ExitOK {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), code
}

func TestPackageLayoutAndReproducible(t *testing.T) {
	fns := []string{"chatops", "create-backup"}
	a, b := t.TempDir(), t.TempDir()
	fakeDist(t, filepath.Join(a, "dist"), fns)
	fakeDist(t, filepath.Join(b, "dist"), fns)
	if _, code := runPackageIn(t, a, nil); code != ExitOK {
		t.Fatalf("package exit %d", code)
	}
	// A later run, other directory: only the contents may matter.
	time.Sleep(1100 * time.Millisecond)
	if _, code := runPackageIn(t, b, nil); code != ExitOK {
		t.Fatalf("package exit %d", code)
	}
	want := map[string][]string{
		"scf/chatops.zip":       {"main", "scf_bootstrap"},
		"scf/create-backup.zip": {"main"},
		"aws/chatops.zip":       {"bootstrap"},
		"aws/create-backup.zip": {"bootstrap"},
	}
	for rel, entries := range want {
		za, err := os.ReadFile(filepath.Join(a, "dist", "package", rel))
		if err != nil {
			t.Fatal(err)
		}
		zb, err := os.ReadFile(filepath.Join(b, "dist", "package", rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(za, zb) {
			t.Errorf("%s: two packagings of the same binaries differ", rel)
		}
		zr, err := zip.NewReader(bytes.NewReader(za), int64(len(za)))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		var got []string
		for _, f := range zr.File {
			got = append(got, f.Name)
			if f.Mode().Perm() != 0o755 || !f.Mode().IsRegular() {
				t.Errorf("%s: %s mode %v, want -rwxr-xr-x", rel, f.Name, f.Mode())
			}
			if !f.Modified.Equal(zipEpoch) {
				t.Errorf("%s: %s dated %v, want %v", rel, f.Name, f.Modified, zipEpoch)
			}
			if f.Name == "scf_bootstrap" {
				rc, _ := f.Open()
				var sb bytes.Buffer
				_, _ = sb.ReadFrom(rc)
				rc.Close()
				if !strings.Contains(sb.String(), "exec ./main") || strings.Contains(sb.String(), "\r") {
					t.Errorf("%s: scf_bootstrap %q: want LF lines that exec ./main", rel, sb.String())
				}
			}
		}
		if strings.Join(got, ",") != strings.Join(entries, ",") {
			t.Errorf("%s: entries %v, want %v (binary at the root, sorted)", rel, got, entries)
		}
	}
	// sls deploy zips dist/scf/chatops itself: the bootstrap must sit next to main.
	st, err := os.Stat(filepath.Join(a, "dist", "scf", "chatops", "scf_bootstrap"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("dist/scf/chatops/scf_bootstrap: %v, %v; want mode 0755", st, err)
	}
}

func TestPackageSourceDateEpoch(t *testing.T) {
	dir := t.TempDir()
	fakeDist(t, filepath.Join(dir, "dist"), []string{"chatops", "create-backup"})
	if _, code := runPackageIn(t, dir, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}); code != ExitOK {
		t.Fatalf("package exit %d", code)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "dist", "package", "aws", "chatops.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if got := zr.File[0].Modified.UTC(); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("dated %v, want SOURCE_DATE_EPOCH", got)
	}
}

func TestPackageFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		env   map[string]string
		want  int
	}{
		{"missing binaries", func(t *testing.T, dir string) {}, nil, ExitRuntime},
		{"bad epoch", func(t *testing.T, dir string) {
			fakeDist(t, filepath.Join(dir, "dist"), []string{"chatops", "create-backup"})
		},
			map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			if _, code := runPackageIn(t, dir, tt.env); code != tt.want {
				t.Errorf("exit %d, want %d", code, tt.want)
			}
		})
	}
}

func TestReadBootstrapRejectsCRLF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "scf_bootstrap")
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{"#!/bin/bash\nexec ./main\n", true},
		{"#!/bin/bash\r\nexec ./main\r\n", false},
		{"exec ./main\n", false},
	} {
		if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readBootstrap(p); (err == nil) != tt.ok {
			t.Errorf("readBootstrap(%q) err %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}

// TestScfBootstrapAsset checks the file shipped in the repository: LF only,
// a shebang, executable, and it starts the binary the package puts beside it.
func TestScfBootstrapAsset(t *testing.T) {
	p := filepath.Join("..", "..", "functions", "chatops", "scf_bootstrap")
	b, err := readBootstrap(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "exec ./main") {
		t.Errorf("scf_bootstrap does not exec ./main:\n%s", b)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o111 == 0 {
		t.Errorf("scf_bootstrap mode %v: want executable in git (0755)", st.Mode())
	}
}

// TestReproducibleBinary builds one function twice, into different
// directories, with the Makefile's own BUILDFLAGS, and compares the bytes.
// The build cache is shared, so this checks what the flags control (paths,
// VCS stamp, build id), which is what differs between two checkouts.
func TestReproducibleBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a function twice")
	}
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BUILDFLAGS\s*:=\s*(.+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no BUILDFLAGS line")
	}
	flags := string(m[1])
	for _, want := range []string{"-trimpath", "-buildvcs=false", "-buildid="} {
		if !strings.Contains(flags, want) {
			t.Errorf("BUILDFLAGS %q lacks %s", flags, want)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var sums [2][32]byte
	for i := range sums {
		out := filepath.Join(t.TempDir(), "main")
		cmd := exec.Command("sh", "-c", "go build "+flags+" -tags scf -o \"$OUT\" ./functions/poll-status")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "OUT="+out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %d: %v\n%s", i, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of poll-status differ: %x vs %x", sums[0], sums[1])
	}
}
