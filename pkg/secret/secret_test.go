package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestStringNeverPrints(t *testing.T) {
	const v = "sk-live-1234567890"
	s := String(v)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "key", s)
	js, _ := json.Marshal(struct{ K String }{s})
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%q": fmt.Sprintf("%q", s), "%#v": fmt.Sprintf("%#v", s),
		"%+v struct": fmt.Sprintf("%+v", struct{ K String }{s}), "slog": logs.String(), "json": string(js),
	}
	for how, out := range outputs {
		if strings.Contains(out, v) {
			t.Errorf("%s printed the secret: %s", how, out)
		}
	}
	if s.Reveal() != v || !s.IsSet() || String("").IsSet() {
		t.Errorf("Reveal/IsSet wrong")
	}
	var d String
	if err := d.Decode(v); err != nil || d.Reveal() != v {
		t.Errorf("Decode = %v, %q", err, d.Reveal())
	}
	if String("").String() != "" {
		t.Errorf("an empty secret should print empty, to show it is unset")
	}
}
