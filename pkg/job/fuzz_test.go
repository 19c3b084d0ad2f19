package job_test

import (
	"encoding/json"
	"io/fs"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// FuzzDecode feeds the envelope decoder what a queue may hand it: every
// message body in the sample events plus valid and broken envelopes. Decode
// must never panic, and whatever it accepts must survive Encode and Decode
// again unchanged, since every hand-off re-encodes a decoded message.
func FuzzDecode(f *testing.F) {
	names, _ := fs.Glob(events.FS, "*/*.json")
	for _, name := range names {
		b, _ := fs.ReadFile(events.FS, name)
		var ev struct {
			Records []struct {
				Body string `json:"body"`
				CMQ  struct {
					MsgBody string `json:"msgBody"`
				} `json:"CMQ"`
			}
		}
		if json.Unmarshal(b, &ev) == nil {
			for _, r := range ev.Records {
				f.Add([]byte(r.Body))
				f.Add([]byte(r.CMQ.MsgBody))
			}
		}
	}
	good := job.Message{JobID: "jabcdefgh", Step: job.StepPoll, Ref: "12345", Seq: 3, Created: time.Unix(1773500000, 0).UTC(),
		Spec:   provider.Spec{Op: provider.Import, Product: provider.SQLServer, InstanceID: "mssql-rdc0gajn", Name: "backupflow-jabcdefgh"},
		Object: &job.Object{Platform: "cos", Bucket: "b-1250000000", Key: "imports/x.bak"}}
	b, _ := good.Encode()
	f.Add(b)
	f.Add([]byte(`{"v":1,"job":"x","step":"poll"}`))
	f.Add([]byte(`{"v":1,"job":"x","step":"create","seq":-1}`))
	f.Add([]byte(`{"v":99}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := job.Decode(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			return // re-escaping may push a near-limit envelope over MaxSize: an error, not a crash
		}
		m2, err := job.Decode(again)
		if err != nil {
			t.Fatalf("accepted %q, re-encoded %q, rejected: %v", b, again, err)
		}
		third, _ := m2.Encode()
		if string(third) != string(again) {
			t.Fatalf("envelope not stable: %s then %s", again, third)
		}
	})
}
