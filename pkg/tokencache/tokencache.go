// Package tokencache holds an access token that an API hands out for a
// lifetime (Feishu's tenant token, WeCom's gettoken), so each call does not
// fetch one: a token is fetched when there is none, within a minute of its
// expiry, or after the API refused it.
package tokencache

import (
	"context"
	"sync"
	"time"
)

// Early is how long before its expiry a token is replaced, so a call made
// with it does not land after it has expired.
const Early = time.Minute

// Fetch gets a new token and how long it is valid.
type Fetch func(ctx context.Context) (token string, lifetime time.Duration, err error)

// Cache is safe for concurrent use. A fetch holds the cache, so callers
// arriving while a token is fetched wait for it instead of fetching their
// own.
type Cache struct {
	fetch Fetch
	now   func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// New returns a cache that fetches with fetch; now defaults to time.Now.
func New(fetch Fetch, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, now: now}
}

// Token returns the cached token or fetches one. A failed fetch is not
// cached: the next call tries again.
func (c *Cache) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.expires.Add(-Early)) {
		return c.token, nil
	}
	tok, life, err := c.fetch(ctx)
	if err != nil {
		return "", err
	}
	c.token, c.expires = tok, c.now().Add(life)
	return tok, nil
}

// Refused forgets token after the API answered that it is invalid or
// expired (revoked, or expired early), so the next call fetches a new one.
// A token fetched since by another call is kept.
func (c *Cache) Refused(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
}
