package reportlink_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/reportlink"
)

func TestCheck(t *testing.T) {
	secret := []byte("0123456789abcdef-report")
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	link := reportlink.Link(secret, "https://chat.example/report", "nightly-20261205T0100Z", now.Add(time.Hour))
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, "https://chat.example/report?") {
		t.Fatalf("link %q: %v", link, err)
	}
	edit := func(k, v string) url.Values {
		q := u.Query()
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	forged := u.Query()
	forged.Set("exp", "1999999999")
	for _, tc := range []struct {
		name   string
		secret []byte
		q      url.Values
		at     time.Time
		ok     bool
	}{
		{"as signed", secret, u.Query(), now, true},
		{"a second before expiry", secret, u.Query(), now.Add(time.Hour - time.Second), true},
		{"at expiry", secret, u.Query(), now.Add(time.Hour), false},
		{"another run", secret, edit("run", "nightly-20261204T0100Z"), now, false},
		{"a later expiry", secret, forged, now, false},
		{"a flipped signature", secret, edit("sig", strings.Repeat("0", 64)), now, false},
		{"no signature", secret, edit("sig", ""), now, false},
		{"no expiry", secret, edit("exp", ""), now, false},
		{"another secret", []byte("fedcba9876543210-report"), u.Query(), now, false},
		{"a short secret", secret[:8], u.Query(), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := reportlink.Check(tc.secret, tc.q, tc.at)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, reportlink.ErrRefused)) {
				t.Fatalf("Check = %q, %v; want ok %v", run, err, tc.ok)
			}
			if tc.ok && run != "nightly-20261205T0100Z" {
				t.Errorf("run %q", run)
			}
		})
	}
}
