package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
)

func init() {
	register(command{name: "package", summary: "zip the built functions for SCF and Lambda, reproducibly", run: runPackage})
}

// zipEpoch stamps every entry, so the same binaries always give the same
// bytes. SOURCE_DATE_EPOCH overrides it, as reproducible-build tools expect.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// packageFile is one zip entry.
type packageFile struct {
	name string // path inside the zip
	data []byte
	mode os.FileMode
}

func runPackage(_ context.Context, env Env, args []string) int {
	fs := newFlags(env, "package", "package [--dist DIR] [--out DIR] [--serverless FILE] [--functions DIR]",
		"Zips what `make build` wrote: for each function, <out>/scf/<fn>.zip with main at the root\n"+
			"(plus scf_bootstrap for web functions) and <out>/aws/<fn>.zip with bootstrap at the root.\n"+
			"It also copies scf_bootstrap next to the web function's binary in <dist>/scf/<fn>, which\n"+
			"`sls deploy` zips itself. Entries are sorted, dated 1980-01-01 (or SOURCE_DATE_EPOCH)\n"+
			"and mode 0755, so the same binaries always give byte-identical zips.")
	dist := fs.String("dist", "dist", "the directory make build wrote (scf/<fn>/main, aws/<fn>/bootstrap)")
	out := fs.String("out", "", "where to write the zips (default <dist>/package)")
	sls := fs.String("serverless", "serverless.yml", "the descriptor naming the functions and which are web functions")
	fnDir := fs.String("functions", "functions", "the source tree holding each web function's scf_bootstrap")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return errorf(env, ExitUsage, "package: unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		*out = filepath.Join(*dist, "package")
	}
	stamp := zipEpoch
	if v := env.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 315532800 { // zip dates start in 1980
			return errorf(env, ExitUsage, "package: SOURCE_DATE_EPOCH %q: want Unix seconds from 1980 on", v)
		}
		stamp = time.Unix(sec, 0).UTC()
	}
	d, err := descriptor.LoadServerless(*sls)
	if err != nil {
		return errorf(env, ExitConfig, "package: %v", err)
	}
	written, err := packageAll(d, *dist, *out, *fnDir, stamp)
	if err != nil {
		return errorf(env, ExitRuntime, "package: %v", err)
	}
	for _, p := range written {
		fmt.Fprintln(env.Stdout, p)
	}
	return ExitOK
}

// packageAll writes one zip per function per platform and returns their
// paths in order.
func packageAll(d *descriptor.Serverless, dist, out, fnDir string, stamp time.Time) ([]string, error) {
	var written []string
	for _, fn := range d.FunctionNames() {
		f := d.Inputs.Functions[fn]
		src := fn
		if f.Src != "" {
			src = filepath.Clean(f.Src)
		}
		main, err := os.ReadFile(filepath.Join(dist, "scf", src, "main"))
		if err != nil {
			return nil, fmt.Errorf("%s: scf binary missing (run make build): %w", fn, err)
		}
		scf := []packageFile{{name: "main", data: main, mode: 0o755}}
		if f.Type == "web" {
			boot, err := readBootstrap(filepath.Join(fnDir, fn, "scf_bootstrap"))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
			scf = append(scf, packageFile{name: "scf_bootstrap", data: boot, mode: 0o755})
			// sls deploy zips dist/scf/<fn> itself: the bootstrap must be there too.
			if err := writeFileAtomic(filepath.Join(dist, "scf", src, "scf_bootstrap"), boot, 0o755); err != nil {
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
		}
		boot, err := os.ReadFile(filepath.Join(dist, "aws", fn, "bootstrap"))
		if err != nil {
			return nil, fmt.Errorf("%s: lambda binary missing (run make build): %w", fn, err)
		}
		for _, z := range []struct {
			platform string
			files    []packageFile
		}{{"scf", scf}, {"aws", []packageFile{{name: "bootstrap", data: boot, mode: 0o755}}}} {
			var buf bytes.Buffer
			if err := writeZip(&buf, z.files, stamp); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", fn, z.platform, err)
			}
			p := filepath.Join(out, z.platform, fn+".zip")
			if err := writeFileAtomic(p, buf.Bytes(), 0o644); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", fn, z.platform, err)
			}
			written = append(written, p)
		}
	}
	return written, nil
}

// readBootstrap reads a web function's start script and refuses what SCF
// would fail to run: no shebang, or CRLF line endings (bash then looks for
// "./main\r").
func readBootstrap(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scf_bootstrap: %w", err)
	}
	if !bytes.HasPrefix(b, []byte("#!/")) {
		return nil, fmt.Errorf("scf_bootstrap %s: must start with a #! line", path)
	}
	if bytes.ContainsRune(b, '\r') {
		return nil, fmt.Errorf("scf_bootstrap %s: CR characters; SCF needs LF line endings", path)
	}
	return b, nil
}

// writeZip writes files sorted by name, deflated, with one fixed date and
// the given Unix modes, so the output depends only on the contents.
func writeZip(w io.Writer, files []packageFile, stamp time.Time) error {
	files = append([]packageFile(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	zw := zip.NewWriter(w)
	for i, f := range files {
		if i > 0 && files[i-1].name == f.name {
			return fmt.Errorf("zip: duplicate entry %s", f.name)
		}
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: stamp}
		h.SetMode(f.mode) // also marks the entry as made on Unix, so unzip keeps the mode
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("zip: %s: %w", f.name, err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return fmt.Errorf("zip: %s: %w", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data, so an interrupted run never
// leaves a truncated zip for a deploy to pick up.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".package-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
