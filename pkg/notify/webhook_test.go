package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The vector from GitHub's webhook documentation (facts/chatops.md §10).
func TestWebhookSignature_GitHubVector(t *testing.T) {
	got := WebhookSignature("It's a Secret to Everybody", []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("WebhookSignature = %s; want %s", got, want)
	}
}

func TestWebhook_SendSigned(t *testing.T) {
	const secret = "whsec-Generic-0123456789"
	var got WebhookPayload
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		if r.Path != "/hooks/backup" || r.Query != "team=db&x=1" {
			t.Errorf("webhook got %s?%s; want the URL without the secret", r.Path, r.Query)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(r.Body)
		if r.Header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			return http.StatusUnauthorized, "bad signature"
		}
		if ts := r.Header.Get("X-Backupflow-Timestamp"); ts != strconv.FormatInt(fixedNow.Unix(), 10) {
			t.Errorf("timestamp header = %q", ts)
		}
		decodeJSON(t, r.Body, &got)
		return http.StatusNoContent, ""
	})
	spec := "webhook:" + srv.URL + "/hooks/backup?team=db&secret=" + secret + "&x=1"
	m := Message{Level: Failure, Title: "Backup failed", Text: "boom", Fields: []Field{{"Instance", "cdb-1"}}, JobID: "42"}
	if err := mustParse(t, spec, &Options{HTTPClient: srv.Client(), Now: clock}).Send(context.Background(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	want := WebhookPayload{Level: "failure", Title: "Backup failed", Text: "boom", Fields: []Field{{"Instance", "cdb-1"}}, Job: "42", Timestamp: fixedNow.Unix()}
	if got.Level != want.Level || got.Title != want.Title || got.Text != want.Text || got.Job != want.Job ||
		got.Timestamp != want.Timestamp || len(got.Fields) != 1 || got.Fields[0] != want.Fields[0] {
		t.Errorf("payload = %+v; want %+v", got, want)
	}
	if !strings.Contains(string(srv.requests()[0].Body), `"fields":[{"name":"Instance","value":"cdb-1"}]`) {
		t.Errorf("fields are not lowercase name/value objects: %s", srv.requests()[0].Body)
	}
}

func TestWebhook_Failures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		retryable bool
	}{
		{"rejected", http.StatusUnauthorized, false},
		{"redirect is not followed", http.StatusFound, false},
		{"unavailable", http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elsewhere := newPlatform(t, func(t *testing.T, r request) (int, string) {
				t.Errorf("the redirect target was called: %s", r.Path)
				return http.StatusOK, ""
			})
			srv := newPlatform(t, func(t *testing.T, r request) (int, string) { return tt.status, "nope" })
			srv.header = http.Header{"Location": {elsewhere.URL + "/steal"}}
			err := mustParse(t, "webhook:"+srv.URL+"/h?secret=s3cr3t-value", &Options{HTTPClient: srv.Client()}).Send(context.Background(), Message{})
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tt.status || e.Retryable() != tt.retryable {
				t.Fatalf("Send = %v; want *Error status %d retryable %v", err, tt.status, tt.retryable)
			}
		})
	}
}
