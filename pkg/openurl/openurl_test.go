package openurl_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
)

func TestRegistry(t *testing.T) {
	r := openurl.NewRegistry[string]("test thing")
	r.Register("fake", func(_ context.Context, u *url.URL, env openurl.Env) (string, error) {
		return u.Host + "=" + env.Lookup("FAKE_SETTING"), nil
	})
	env := openurl.Env{Getenv: func(k string) string { return map[string]string{"FAKE_SETTING": "on"}[k] }}
	tests := []struct {
		url, want, wantErr string
	}{
		{url: "fake://a", want: "a=on"},
		{url: "other://secret-looking-value", wantErr: "unknown scheme (this binary opens fake://"},
		{url: "AKIDsecret", wantErr: "not a URL (this binary opens fake://"},
		{url: "%zz", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := r.Open(context.Background(), tt.url, env)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Open = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, apierr.ErrInvalidInput) {
				t.Fatalf("Open = %v; want an invalid-input error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q quotes the URL", err)
			}
			if !strings.HasPrefix(err.Error(), "open test thing: ") {
				t.Errorf("error %q does not name the kind", err)
			}
		})
	}
	if got := openurl.Schemes()["test thing"]; !slices.Equal(got, []string{"fake"}) {
		t.Errorf("Schemes()[test thing] = %v; want [fake]", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := openurl.NewRegistry[int]("twice")
	op := func(context.Context, *url.URL, openurl.Env) (int, error) { return 0, nil }
	r.Register("x", op)
	defer func() {
		if recover() == nil {
			t.Error("a second Register of one scheme did not panic")
		}
	}()
	r.Register("x", op)
}
