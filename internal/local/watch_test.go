package local

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
)

func cosTrigger(prefix, suffix, events string) descriptor.Trigger {
	var t descriptor.Trigger
	t.Type, t.Function = "cos", "start-migration"
	t.Parameters.Bucket = "backups-1250000000.cos.ap-guangzhou.myqcloud.com"
	t.Parameters.Filter.Prefix, t.Parameters.Filter.Suffix, t.Parameters.Events = prefix, suffix, events
	return t
}

// TestCOSEventDecodesLikeTheSample checks the generated event against the
// recorded one: both decode to the same object.
func TestCOSEventDecodesLikeTheSample(t *testing.T) {
	sample, err := events.FS.ReadFile("start-migration/scf-cos-put.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := event.Decode(sample)
	if err != nil {
		t.Fatal(err)
	}
	w := want.Objects[0]
	b, err := COSEvent(COSObject{Bucket: w.Bucket, AppID: w.AppID, Region: w.Region, Key: w.Key, Size: w.Size,
		ETag: w.ETag, Function: "start-migration"}, w.Time)
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Objects[0]
	g.RequestID, w.RequestID = "", ""
	if !reflect.DeepEqual(g, w) {
		t.Errorf("decoded generated event = %+v\nsample = %+v", g, w)
	}
	for _, s := range []string{`"key":"/1250000000/backups/imports/mssql-rdc0gajn/orders.bak"`, `"region":"gz"`,
		`"eventName":"cos:ObjectCreated:Put"`, `"name":"backups"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("event lacks %s: %s", s, b)
		}
	}
}

func TestWatcherScan(t *testing.T) {
	dir := t.TempDir()
	w, err := newWatcher(cosTrigger("imports/", ".bak", "cos:ObjectCreated:*"), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	write := func(key, data string) {
		p := filepath.Join(w.root, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scan := func() []string {
		t.Helper()
		keys, err := w.scan()
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	write("imports/mssql-a/old.bak", "TAPE")
	if got := scan(); len(got) != 0 {
		t.Fatalf("files there before the start were delivered: %v", got)
	}
	write("imports/mssql-a/new.bak", "TA")
	if got := scan(); len(got) != 0 {
		t.Fatalf("a file seen once was delivered before it settled: %v", got)
	}
	write("imports/mssql-a/new.bak", "TAPE") // still being written
	if got := scan(); len(got) != 0 {
		t.Fatalf("a growing file was delivered: %v", got)
	}
	if got := scan(); !reflect.DeepEqual(got, []string{"imports/mssql-a/new.bak"}) {
		t.Fatalf("settled file: got %v", got)
	}
	if got := scan(); len(got) != 0 {
		t.Fatalf("delivered twice: %v", got)
	}
	write("imports/mssql-a/.partial.bak", "TAPE") // hidden: a copy in progress
	scan()
	if got := scan(); len(got) != 0 {
		t.Fatalf("hidden file delivered: %v", got)
	}
	for _, tc := range []struct {
		event, key string
		want       bool
	}{
		{"cos:ObjectCreated:Put", "imports/mssql-a/x.bak", true},
		{"cos:ObjectCreated:Put", "imports/mssql-a/x.zip", false},
		{"cos:ObjectCreated:Put", "other/mssql-a/x.bak", false},
		{"cos:ObjectRemove:Delete", "imports/mssql-a/x.bak", false},
	} {
		if got := w.Match(tc.event, tc.key); got != tc.want {
			t.Errorf("Match(%s, %s) = %v, want %v", tc.event, tc.key, got, tc.want)
		}
	}
	if !eventMatches("cos:ObjectCreated:Put", "cos:ObjectCreated:Put") || eventMatches("cos:ObjectCreated:Post", "cos:ObjectCreated:Put") {
		t.Error("exact event names must match exactly")
	}
}

func TestNewWatcherRejectsABadBucket(t *testing.T) {
	tr := cosTrigger("", "", "")
	tr.Parameters.Bucket = "backups"
	if _, err := newWatcher(tr, t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "myqcloud.com") {
		t.Errorf("err = %v", err)
	}
}

// TestDroppedBackupIsImported runs the stack as `make run` does (here with
// in-memory queues and CMQ both) and drops a .bak into the bucket folder.
func TestDroppedBackupIsImported(t *testing.T) {
	for _, q := range []string{"cmq", "mem://"} {
		t.Run(q, func(t *testing.T) {
			out := &syncBuf{}
			o := testOptions(t, out)
			o.Queue = q
			s, err := Start(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			s.Begin(ctx)
			defer func() {
				cancel()
				if err := s.Close(10 * time.Second); err != nil {
					t.Error(err)
				}
			}()
			file := filepath.Join(o.Dir, "cos", "backups-1250000000", "imports", "mssql-rdc0gajn", "orders.bak")
			if err := writeBackup(file); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(30 * time.Second)
			for {
				for _, r := range s.Rows() {
					if r.Source == "cos" && r.Outcome != nil {
						if r.Outcome.Result != flow.Succeeded || r.Target != "mssql-rdc0gajn" {
							t.Fatalf("import ended %+v\n%s", r.Outcome, out)
						}
						if !regexp.MustCompile(`import/cos +mssql-rdc0gajn +succeeded`).MatchString(out.String()) {
							t.Errorf("the view did not show the import:\n%s", out)
						}
						return
					}
				}
				select {
				case <-deadline:
					t.Fatalf("no import outcome:\n%s", out)
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
}
