package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/objstore/cosstore"
	"github.com/backupflow/backupflow/pkg/objstore/s3store"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue"
	"github.com/backupflow/backupflow/pkg/queue/sqsqueue"
	"github.com/backupflow/backupflow/pkg/wecom"
)

// variables lists the env tags of a settings struct.
func variables(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("env"); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestEmptyMeansUnset: for every variable of the functions', the chat
// function's and the drivers' settings, a variable set to "" (or blanks)
// loads exactly as an unset one, through the lookup loader and through the
// process environment.
func TestEmptyMeansUnset(t *testing.T) {
	loaders := []struct {
		name string
		typ  reflect.Type
		min  int // variables the type must have, so the loop proves something
		load func(getenv func(string) string) (any, error)
	}{
		{"config", reflect.TypeFor[config.Config](), 10, func(g func(string) string) (any, error) { return config.LoadFrom(g) }},
		{"chat", reflect.TypeFor[chatapp.ChatConfig](), 10, func(g func(string) string) (any, error) { return chatapp.LoadChatConfig(g) }},
		{"cmq", reflect.TypeFor[cmqqueue.Settings](), 5, func(g func(string) string) (any, error) { return cmqqueue.SettingsFrom(g) }},
		{"sqs", reflect.TypeFor[sqsqueue.Settings](), 6, func(g func(string) string) (any, error) { return sqsqueue.SettingsFrom(g) }},
		{"cos", reflect.TypeFor[cosstore.Settings](), 2, func(g func(string) string) (any, error) { return cosstore.SettingsFrom(g) }},
		{"s3", reflect.TypeFor[s3store.Settings](), 5, func(g func(string) string) (any, error) { return s3store.SettingsFrom(g) }},
		{"feishu", reflect.TypeFor[feishu.Settings](), 3, func(g func(string) string) (any, error) {
			var s feishu.Settings
			err := config.ProcessFrom(g, &s)
			return s, err
		}},
		{"wecom", reflect.TypeFor[wecom.Settings](), 4, func(g func(string) string) (any, error) {
			var s wecom.Settings
			err := config.ProcessFrom(g, &s)
			return s, err
		}},
	}
	for _, l := range loaders {
		keys := variables(l.typ)
		if len(keys) < l.min {
			t.Fatalf("%s: only %d variables found", l.name, len(keys))
		}
		unset, err := l.load(func(string) string { return "" })
		if err != nil {
			t.Fatalf("%s defaults: %v", l.name, err)
		}
		for _, key := range keys {
			for _, empty := range []string{"", "  "} {
				t.Run(l.name+"/"+key+"="+empty, func(t *testing.T) {
					got, err := l.load(func(k string) string {
						if k == key {
							return empty
						}
						return ""
					})
					if err != nil {
						t.Fatalf("%s=%q: %v", key, empty, err)
					}
					if !reflect.DeepEqual(got, unset) {
						t.Errorf("%s=%q loads %+v\nunset loads %+v", key, empty, got, unset)
					}
					// The process environment goes through the same loader;
					// every variable is set, so the machine's own cannot leak in.
					for _, k := range keys {
						t.Setenv(k, "")
					}
					t.Setenv(key, empty)
					var fromEnv any
					if l.name == "config" {
						fromEnv, err = config.Load()
					} else {
						fromEnv, err = l.load(os.Getenv)
					}
					if err != nil || !reflect.DeepEqual(fromEnv, unset) {
						t.Errorf("%s=%q in the environment loads %+v, %v\nunset loads %+v", key, empty, fromEnv, err, unset)
					}
				})
			}
		}
	}
}

// TestTheCasesThatDisagreed pins the variables the functions and the local
// stack once read differently.
func TestTheCasesThatDisagreed(t *testing.T) {
	load := func(env map[string]string) config.Config {
		t.Helper()
		c, err := config.LoadFrom(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := load(map[string]string{"BACKUPFLOW_NOTIFY_MODE": ""}); c.NotifyMode != "all" {
		t.Errorf(`BACKUPFLOW_NOTIFY_MODE="" gives %q; want the default all`, c.NotifyMode)
	}
	if c := load(map[string]string{"BACKUPFLOW_DISCOVER_TAG": ""}); c.Flow().DiscoverTag != "backupflow=nightly" {
		t.Errorf(`BACKUPFLOW_DISCOVER_TAG="" discovers %q; want the default tag`, c.Flow().DiscoverTag)
	}
	if c := load(map[string]string{"BACKUPFLOW_DISCOVER_TAG": config.DiscoverOff}); c.Flow().DiscoverTag != "" {
		t.Errorf("BACKUPFLOW_DISCOVER_TAG=%s discovers %q; want discovery off", config.DiscoverOff, c.Flow().DiscoverTag)
	}
	if c := load(map[string]string{"BACKUPFLOW_PRODUCTS": " mysql, ,sqlserver "}); !reflect.DeepEqual(c.Products, []string{"mysql", "sqlserver"}) {
		t.Errorf("BACKUPFLOW_PRODUCTS list = %q; want items trimmed, empty ones dropped", c.Products)
	}
}

func TestLoadFromErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ key, val string }{
		{"BACKUPFLOW_RETRY_BUDGET", "many"},
		{"BACKUPFLOW_BACKUP_DEADLINE", "soon"},
		{"BACKUPFLOW_NOTIFY_MODE", "sometimes"},
		{"BACKUPFLOW_DISCOVER_TAG", "secretish"},
		{"BACKUPFLOW_TARGETS", `[{"instance":"secretish"`},
		{"BACKUPFLOW_IMPORT_RULES", "secretish"},
		{"BACKUPFLOW_IMPORT_RULES", `[secretish`},
		{"BACKUPFLOW_CHAT_MAX_BODY", "secretish"},
		{"BACKUPFLOW_CHAT_BACKUP_ANYONE", "secretish"},
	} {
		getenv := func(k string) string {
			if k == tc.key {
				return tc.val
			}
			return ""
		}
		_, err := config.LoadFrom(getenv)
		if strings.HasPrefix(tc.key, "BACKUPFLOW_CHAT_") {
			_, err = chatapp.LoadChatConfig(getenv)
		}
		if err == nil || !strings.Contains(err.Error(), tc.key) || strings.Contains(err.Error(), "secretish") || strings.Contains(err.Error(), tc.val) {
			t.Errorf("%s=%s: error %v; want one naming the variable and not the value", tc.key, tc.val, err)
		}
	}
}
