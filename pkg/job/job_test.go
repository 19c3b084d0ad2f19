package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

func TestDecode(t *testing.T) {
	good := `{"v":1,"job":"jabc","step":"create","spec":{"op":"backup","product":"mysql","instance":"cdb-c1nl9rpv","name":"backupflow-jabc"},"seq":0,"created":"2026-11-23T18:00:00Z","origin":{"source":"timer"}}`
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"good", good, true},
		{"newer version", strings.Replace(good, `"v":1`, `"v":2`, 1), false},
		{"no version", strings.Replace(good, `"v":1,`, ``, 1), false},
		{"no job id", strings.Replace(good, `"job":"jabc",`, ``, 1), false},
		{"unknown step", strings.Replace(good, `"create"`, `"destroy"`, 1), false},
		{"poll without ref", strings.Replace(good, `"create"`, `"poll"`, 1), false},
		{"negative seq", strings.Replace(good, `"seq":0`, `"seq":-1`, 1), false},
		{"import without object", strings.Replace(good, `"op":"backup"`, `"op":"import"`, 1), false},
		{"not json", `{"v":1`, false},
		{"oversized", `{"v":1,"job":"` + strings.Repeat("x", MaxSize) + `"}`, false},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s: Decode err = %v; want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v is not ErrMalformed", tt.name, err)
		}
	}
}

func TestEncodeRoundTripAndSize(t *testing.T) {
	m := Message{JobID: NewID("nightly", "20261123T1800Z", "cdb-c1nl9rpv"), Step: StepPoll, Ref: "backup/1",
		Spec:    provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", SourceURL: "https://x?q-signature=secret"},
		Created: time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC), Origin: Origin{Source: "timer", Run: "nightly-x"}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "q-signature") {
		t.Errorf("the presigned URL was encoded: %s", b)
	}
	if len(b) > 2048 {
		t.Errorf("envelope is %d bytes; want well under SCF's 128 KB async limit", len(b))
	}
	got, err := Decode(b)
	if err != nil || got.JobID != m.JobID || got.Ref != m.Ref || got.V != Version {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	big := m
	big.Origin.User = strings.Repeat("u", MaxSize)
	if _, err := big.Encode(); err == nil {
		t.Errorf("an oversized envelope encoded")
	}
}

func TestIDsAndNames(t *testing.T) {
	a, b := NewID("object", "bkt", "k", "v1"), NewID("object", "bkt", "k", "v1")
	if a != b {
		t.Errorf("same cause, different ids: %s %s", a, b)
	}
	// Parts are length-prefixed, so shifting a boundary changes the id.
	if NewID("ab", "c") == NewID("a", "bc") {
		t.Errorf("ambiguous id derivation")
	}
	for _, p := range provider.Products {
		if err := provider.ValidateName(p, Name(a)); err != nil {
			t.Errorf("Name(%s) invalid for %s: %v", a, p, err)
		}
	}
	t1 := time.Date(2026, 11, 23, 18, 0, 5, 0, time.UTC)
	if Slot(t1) != Slot(t1.Add(40*time.Second)) || Slot(t1) == Slot(t1.Add(time.Minute)) {
		t.Errorf("Slot does not group a minute")
	}
}

// TestDecode_CreateWithoutSpec: a create with no spec is rejected with the
// reason, as a poll without a reference is, instead of failing later with
// "product  is not enabled".
func TestDecode_CreateWithoutSpec(t *testing.T) {
	_, err := Decode([]byte(`{"v":1,"job":"bk-cdb-c1nl9rpv-20260314T1800Z","step":"create","target":"cdb-c1nl9rpv","attempt":1}`))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "create without a spec") {
		t.Errorf("Decode(create without spec) error = %v; want ErrMalformed naming the missing spec", err)
	}
}

// Unset times stay out of the envelope (omitempty never omitted a
// time.Time: each message carried five "0001-01-01T00:00:00Z", a third of
// its bytes and of its decoding), and an envelope written with them, as
// earlier builds wrote it, decodes to the same message.
func TestUnsetTimesAreOmitted(t *testing.T) {
	created := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	m := Message{V: Version, JobID: "j1", Step: StepPoll, Ref: "backup/1", Created: created,
		Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv"}, Origin: Origin{Source: "timer"}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"retrying", "prevCheck", "started", "deadline", "notBefore", "0001-01-01"} {
		if strings.Contains(string(b), name) {
			t.Errorf("envelope holds %q: %s", name, b)
		}
	}
	old := strings.Replace(string(b), `"created"`, `"retrying":"0001-01-01T00:00:00Z","prevCheck":"0001-01-01T00:00:00Z",`+
		`"started":"0001-01-01T00:00:00Z","deadline":"0001-01-01T00:00:00Z","notBefore":"0001-01-01T00:00:00Z","created"`, 1)
	for _, body := range []string{string(b), old} {
		got, err := Decode([]byte(body))
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("Decode(%s) = %+v, %v; want %+v", body, got, err, m)
		}
	}
	set := m
	set.Started, set.Deadline = created.Add(time.Second), created.Add(time.Hour)
	b, _ = set.Encode()
	if got, err := Decode(b); err != nil || !got.Started.Equal(set.Started) || !got.Deadline.Equal(set.Deadline) {
		t.Errorf("set times: Decode = %+v, %v", got, err)
	}
}

// TestDecodeAcceptsAsTheStreamDecoder holds Decode's fast path to what it
// replaced, a json.Decoder reading the first value: the same message and the
// same error text for whole values, trailing bytes (always accepted), type
// mismatches, broken and empty input.
func TestDecodeAcceptsAsTheStreamDecoder(t *testing.T) {
	good := `{"v":1,"job":"jabc","step":"poll","ref":"r1","spec":{"op":"backup","product":"mysql","instance":"cdb-c1nl9rpv","name":"backupflow-jabc"},"seq":2,"created":"2026-11-23T18:00:00Z","origin":{"source":"timer"}}`
	reference := func(b []byte) (Message, error) {
		var m Message
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
			return m, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return m, nil
	}
	for _, body := range []string{
		good,
		"  \n" + good + "\n\t ",
		good + "garbage",
		good + `{"v":1}`,
		good + good,
		strings.Replace(good, `"seq":2`, `"seq":"2"`, 1),
		strings.Replace(good, `"seq":2`, `"seq":2.5`, 1),
		strings.Replace(good, `"v":1`, `"v":1,"unknown":[1,{"x":null}]`, 1),
		`{"v":1`,
		``,
		`   `,
		`[]`,
	} {
		want, wantErr := reference([]byte(body))
		got, err := Decode([]byte(body))
		if wantErr != nil {
			if err == nil || err.Error() != wantErr.Error() {
				t.Errorf("Decode(%q) err = %v; the stream decoder's was %v", body, err, wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Decode(%q) = %v; the stream decoder accepted it", body, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%q) = %+v; the stream decoder gave %+v", body, got, want)
		}
	}
}
