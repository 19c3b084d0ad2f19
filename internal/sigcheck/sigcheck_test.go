package sigcheck_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/sigcheck"
	"github.com/backupflow/backupflow/pkg/sigv4"
)

func TestVerify(t *testing.T) {
	key := sigcheck.Key{ID: "AKID", Secret: "secret"}
	signed := func(mutate func(*http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bk/a%20b/c.json", strings.NewReader("{}"))
		r.Header.Set("If-None-Match", "*")
		sigv4.Signer{Service: "s3", Region: "us-east-1", Credentials: sigv4.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "tok"}}.
			Sign(r, sigv4.PayloadHash([]byte("{}")), time.Now())
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	tests := []struct {
		name   string
		r      *http.Request
		key    sigcheck.Key
		hash   string
		escape bool
		want   error
	}{
		{"signed", signed(nil), key, sigv4.PayloadHash([]byte("{}")), false, nil},
		{"key id only", signed(nil), sigcheck.Key{ID: "AKID"}, "", false, nil},
		{"another key", signed(nil), sigcheck.Key{ID: "AKOTHER", Secret: "secret"}, sigv4.PayloadHash([]byte("{}")), false, sigcheck.ErrUnknownKey},
		{"wrong secret", signed(nil), sigcheck.Key{ID: "AKID", Secret: "nope"}, sigv4.PayloadHash([]byte("{}")), false, sigcheck.ErrMismatch},
		{"another body", signed(nil), key, sigv4.PayloadHash([]byte("{ }")), false, sigcheck.ErrMismatch},
		{"a signed header changed", signed(func(r *http.Request) { r.Header.Set("If-None-Match", "x") }), key, sigv4.PayloadHash([]byte("{}")), false, sigcheck.ErrMismatch},
		{"the token changed", signed(func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "other") }), key, sigv4.PayloadHash([]byte("{}")), false, sigcheck.ErrMismatch},
		{"path escaped twice", signed(nil), key, sigv4.PayloadHash([]byte("{}")), true, sigcheck.ErrMismatch},
		{"unsigned", httptest.NewRequest(http.MethodGet, "/", nil), key, "", false, sigcheck.ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sigcheck.Verify(tt.r, tt.hash, "s3", tt.key, tt.escape)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v; want %v", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AK/20261207/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab")
	f.Add("AWS4-HMAC-SHA256 Credential=/a/b")
	f.Fuzz(func(t *testing.T, h string) {
		a, ok := sigcheck.Parse(h)
		if ok && (a.KeyID == "" || a.Signature == "" || len(a.SignedHeaders) == 0) {
			t.Errorf("Parse(%q) = %+v, ok with a part missing", h, a)
		}
	})
}
