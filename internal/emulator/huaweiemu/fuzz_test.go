package huaweiemu

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeCreate feeds arbitrary bodies to the CreateManualBackup decoder:
// it must never panic, must answer a documented code, and whatever it
// accepts must satisfy every documented rule.
func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{seedMySQL, seedSQLServer, "", "{}", "null", `{"name":1}`, `{"databases":[{}]}`,
		`{"instance_id":"x","name":"abcd","description":"é` + strings.Repeat("x", 255) + `"}`,
		`{"instance_id":"x","name":"abcd","backup_database_individually":true,"databases":[{"name":"a"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, e := decodeCreate(body)
		if e != nil {
			if e.code != codeParam && e.code != codeEmptyBody || e.status != http.StatusBadRequest || e.msg == "" {
				t.Fatalf("unexpected error %d %s %q", e.status, e.code, e.msg)
			}
			return
		}
		if c.InstanceID == "" || !backupName.MatchString(c.Name) {
			t.Fatalf("accepted instance %q name %q", c.InstanceID, c.Name)
		}
		if utf8.RuneCountInString(c.Description) > 256 || strings.ContainsAny(c.Description, `>!<"&'=`) {
			t.Fatalf("accepted description %q", c.Description)
		}
		if c.Individually && len(c.Databases) == 0 {
			t.Fatal("accepted backup_database_individually without databases")
		}
		if !json.Valid(body) {
			t.Fatal("accepted invalid JSON")
		}
	})
}

// FuzzServeCreate sends arbitrary signed bodies through the whole handler:
// every answer is JSON with a request id and a code from Codes.
func FuzzServeCreate(f *testing.F) {
	f.Add([]byte(seedMySQL))
	f.Add([]byte(seedSQLServer))
	f.Add([]byte(`{"instance_id":"0123456789abcdef0123456789abcdefin02","name":"abcd"}`))
	now := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		s := New(Options{AK: testAK, SK: testSK, Fleet: testFleet(), Now: func() time.Time { return now }})
		req := httptest.NewRequest(http.MethodPost, "/v3/"+project+"/backups", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		Sign(req, body, testAK, testSK, now)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Header().Get("X-Request-Id") == "" {
			t.Fatal("no request id")
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if w.Code == http.StatusOK {
			if _, ok := out["backup"]; !ok {
				t.Fatalf("200 without backup: %s", w.Body)
			}
			return
		}
		code, _ := out["error_code"].(string)
		known := false
		for _, c := range s.Codes() {
			known = known || c == code
		}
		if !known {
			t.Fatalf("status %d with unknown code %q", w.Code, code)
		}
	})
}
