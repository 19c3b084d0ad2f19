package tokencache_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/tokencache"
)

// fetcher hands out tok-1, tok-2, ... valid for two hours, or fails while
// fail is set.
type fetcher struct {
	n    int
	fail bool
}

func (f *fetcher) fetch(context.Context) (string, time.Duration, error) {
	if f.fail {
		return "", 0, errors.New("refused")
	}
	f.n++
	return "tok-" + strconv.Itoa(f.n), 2 * time.Hour, nil
}

func TestCache(t *testing.T) {
	type step struct {
		advance time.Duration
		refuse  string // Refused(refuse) before the call
		fail    bool
		want    string // "" for an error
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"cached until a minute before expiry", []step{
			{want: "tok-1"}, {advance: time.Hour, want: "tok-1"}, {advance: 58 * time.Minute, want: "tok-1"},
			{advance: time.Minute, want: "tok-2"},
		}},
		{"a refused token is fetched again", []step{
			{want: "tok-1"}, {refuse: "tok-1", want: "tok-2"}, {want: "tok-2"},
		}},
		{"refusing an old token keeps the new one", []step{
			{want: "tok-1"}, {refuse: "tok-1", want: "tok-2"}, {refuse: "tok-1", want: "tok-2"},
		}},
		{"a failed fetch is not cached", []step{
			{fail: true}, {want: "tok-1"}, {advance: 2 * time.Hour, fail: true}, {want: "tok-2"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktest.New(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
			f := &fetcher{}
			c := tokencache.New(f.fetch, clock.Now)
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				if s.refuse != "" {
					c.Refused(s.refuse)
				}
				f.fail = s.fail
				got, err := c.Token(context.Background())
				if s.want == "" {
					if err == nil {
						t.Errorf("step %d: got %q, want the fetch's error", i, got)
					}
					continue
				}
				if err != nil || got != s.want {
					t.Errorf("step %d: got %q, %v; want %q", i, got, err, s.want)
				}
			}
		})
	}
}
