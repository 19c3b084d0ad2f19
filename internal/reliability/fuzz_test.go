package reliability

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
)

// Decoders of outside input with no fuzz target in their own package:
// the timer's selection message, the object argument of chat and CLI
// commands, and the target and import-rule variables.

// FuzzParseSelection: a timer's Message (SCF) or Input (EventBridge).
func FuzzParseSelection(f *testing.F) {
	names, _ := fs.Glob(events.FS, "create-backup/*.json")
	for _, name := range names {
		b, _ := fs.ReadFile(events.FS, name)
		if tr, err := event.Decode(b); err == nil && tr.Timer != nil {
			f.Add(tr.Timer.Message)
		}
	}
	for _, s := range []string{"", "drain", `{"targets":["cdb-c1nl9rpv"]}`, `{"targets":null}`, `{"targets":[1]}`, "{", `{}{}`} {
		f.Add(s)
	}
	for _, s := range []string{`{"target":["cdb-c1nl9rpv"]}`, `{"targets":[]}`, `{"targets":["a"],"all":true}`, `{"targets":["a"]}}`, "nightly"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sel, err := flow.ParseSelection(msg)
		if err != nil && sel.Targets != nil {
			t.Fatalf("error %v with targets %v", err, sel.Targets)
		}
		// Strict: only blank text selects everything; anything else that
		// is accepted names at least one non-blank target.
		if err == nil && strings.TrimSpace(msg) != "" {
			if len(sel.Targets) == 0 {
				t.Fatalf("ParseSelection(%q) accepted a selection of nothing: a run over everything", msg)
			}
			for _, id := range sel.Targets {
				if strings.TrimSpace(id) == "" {
					t.Fatalf("ParseSelection(%q) accepted a blank target", msg)
				}
			}
		}
	})
}

// FuzzParseObject: "import <object> to <instance>" from chat or the CLI.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{"cos://backups-1250000000/imports/a.bak", "s3://b/k", "b/k", "/b/k", "http://x/y", "cos://", "cos:///k", "%zz", "b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := flow.ParseObject(s)
		if err != nil {
			return
		}
		if o.Bucket == "" || o.Key == "" || (o.Platform != "cos" && o.Platform != "s3") {
			t.Fatalf("ParseObject(%q) = %+v: accepted without bucket, key and platform", s, o)
		}
	})
}

// FuzzConfigLists: BACKUPFLOW_TARGETS and BACKUPFLOW_IMPORT_RULES, both
// JSON and the short comma forms; the rules are then matched as the upload
// flow matches them.
func FuzzConfigLists(f *testing.F) {
	for _, s := range []string{"cdb-c1nl9rpv,mssql-i1z41iwd:full", `[{"instance":"cdb-c1nl9rpv"}]`, "imports/*/*.bak={1}",
		`[{"pattern":"[","instance":"{1}"}]`, ",,,", "[", "a=b,=c", `[{"pattern":"*","instance":"{1}"}]`} {
		f.Add(s, "imports/mssql-rdc0gajn/x.bak")
	}
	f.Fuzz(func(t *testing.T, v, key string) {
		var tg config.Targets
		_ = tg.Decode(v)
		var rules config.ImportRules
		if rules.Decode(v) != nil {
			return
		}
		for _, r := range rules {
			if id, ok := r.Match("backups-1250000000", key); ok && id == "" && !strings.Contains(r.Instance, "{1}") {
				t.Fatalf("rule %+v matched %q to an empty instance", r, key)
			}
		}
	})
}
