package events_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/pkg/event"
)

// kindOf names the trigger kind a sample's file name promises.
func kindOf(name string) string {
	trigger := strings.SplitN(strings.TrimSuffix(path.Base(name), ".json"), "-", 3)[1]
	switch trigger {
	case "timer", "schedule":
		return "timer"
	case "cos", "s3":
		return "object"
	case "cmq", "sqs":
		return "message"
	}
	return "unknown trigger " + trigger
}

// triggerFunctions are the functions started by trigger events, whose samples
// pkg/event decodes. (chatops samples are HTTP requests; its own tests replay them.)
var triggerFunctions = []string{"create-backup", "start-migration", "poll-status"}

func TestEverySampleDecodes(t *testing.T) {
	var files []string
	for _, fn := range triggerFunctions {
		matches, err := fs.Glob(events.FS, fn+"/*.json")
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) < 4 {
			t.Errorf("%s has %d samples; want at least 4", fn, len(matches))
		}
		files = append(files, matches...)
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			b, err := fs.ReadFile(events.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := event.Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s) error = %v", name, err)
			}
			var got []string
			if tr.Timer != nil {
				got = append(got, "timer")
			}
			if len(tr.Objects)+len(tr.Skipped) > 0 {
				got = append(got, "object")
			}
			if len(tr.Messages) > 0 {
				got = append(got, "message")
			}
			if want := kindOf(name); len(got) != 1 || got[0] != want {
				t.Errorf("Decode(%s) kinds = %v; want [%s]", name, got, want)
			}
			wantPlatform := strings.SplitN(path.Base(name), "-", 2)[0]
			if tr.Timer != nil && tr.Timer.Platform != wantPlatform {
				t.Errorf("Decode(%s).Timer.Platform = %q; want %q", name, tr.Timer.Platform, wantPlatform)
			}
			if !strings.Contains(name, "malformed") {
				if len(tr.RecordErrors) > 0 {
					t.Errorf("Decode(%s).RecordErrors = %v; want none", name, tr.RecordErrors)
				}
				for _, m := range tr.Messages {
					if m.Err != nil || m.ID == "" || len(m.Body) == 0 {
						t.Errorf("Decode(%s) message = %+v; want an ID, a body and no error", name, m)
					}
				}
			}
		})
	}
}

// TestSampleDetails pins what the functions rely on in particular samples.
func TestSampleDetails(t *testing.T) {
	decode := func(t *testing.T, name string) *event.Trigger {
		t.Helper()
		b, err := fs.ReadFile(events.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := event.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s) error = %v", name, err)
		}
		return tr
	}
	t.Run("timer selection stays raw", func(t *testing.T) {
		tr := decode(t, "create-backup/scf-timer-selection.json")
		if want := `{"targets":["cdb-c1nl9rpv","mssql-njj2mtpl"]}`; tr.Timer.Message != want {
			t.Errorf("Message = %q; want %q", tr.Timer.Message, want)
		}
		if want := time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC); !tr.Timer.Time.Equal(want) {
			t.Errorf("Time = %v; want %v", tr.Timer.Time, want)
		}
	})
	t.Run("schedule input becomes message", func(t *testing.T) {
		tr := decode(t, "create-backup/aws-schedule-input.json")
		if !strings.Contains(tr.Timer.Message, "cmgo-ayxpky6l") {
			t.Errorf("Message = %q; want the input JSON", tr.Timer.Message)
		}
	})
	t.Run("cos multipart", func(t *testing.T) {
		tr := decode(t, "start-migration/scf-cos-multipart.json")
		o := tr.Objects[0]
		want := event.Object{
			Platform: "cos", Bucket: "backups-1250000000", AppID: "1250000000", Region: "ap-guangzhou",
			Key: "imports/mssql-rdc0gajn/orders 2026-03.bak", ETag: "3858f62230ac3c915f300c664312c11f-205",
			VersionID: "MTg0NDUxNTc1NjIzMTQ1MDAwODg", EventName: "cos:ObjectCreated:CompleteMultipartUpload",
			Size: 2147483648, Time: time.Unix(1773500000, 0).UTC(), RequestID: "179398953",
		}
		if o != want {
			t.Errorf("Objects[0] = %+v\nwant %+v", o, want)
		}
	})
	t.Run("s3 key plus is space", func(t *testing.T) {
		tr := decode(t, "start-migration/aws-s3-put.json")
		if got, want := tr.Objects[0].Key, "imports/mssql-rdc0gajn/orders march.bak"; got != want {
			t.Errorf("Key = %q; want %q", got, want)
		}
	})
	t.Run("malformed record keeps the good one", func(t *testing.T) {
		tr := decode(t, "poll-status/aws-sqs-malformed-record.json")
		if len(tr.Messages) != 2 {
			t.Fatalf("len(Messages) = %d; want 2", len(tr.Messages))
		}
		good, bad := tr.Messages[0], tr.Messages[1]
		if good.Err != nil || good.Receives != 1 {
			t.Errorf("good message = %+v; want no error, 1 receive", good)
		}
		if bad.Err == nil || bad.ID != "e2b5c7d1-3f4a-4b6c-9d8e-7f0a1b2c3d06" {
			t.Errorf("bad message = %+v; want an error and its ID", bad)
		}
	})
}
