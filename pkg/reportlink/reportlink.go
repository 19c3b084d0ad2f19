// Package reportlink signs and checks the links the nightly summary gives
// to its run's report page, served by the chatops web function: the page
// names the fleet's instances and the clouds' errors, so a link opens one
// run, until it expires, and only as signed (HMAC-SHA256 with a secret the
// notifying functions and the chatops function share).
package reportlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// MinSecret is the shortest secret accepted: 128 bits.
const MinSecret = 16

// ErrRefused is what Check returns for a link it does not honour:
// unsigned, tampered with, signed with another secret, or expired.
var ErrRefused = errors.New("report link refused")

// Link is base?run=RUN&exp=UNIX&sig=HEX: the run's page until exp.
func Link(secret []byte, base, run string, exp time.Time) string {
	q := url.Values{"run": {run}, "exp": {strconv.FormatInt(exp.Unix(), 10)}}
	q.Set("sig", sign(secret, run, q.Get("exp")))
	return base + "?" + q.Encode()
}

// Check returns the run a link's query opens at now, or ErrRefused.
func Check(secret []byte, q url.Values, now time.Time) (string, error) {
	run, exp, sig := q.Get("run"), q.Get("exp"), q.Get("sig")
	if run == "" || exp == "" || sig == "" || len(secret) < MinSecret {
		return "", ErrRefused
	}
	// The signature first: an expiry is only read from a link we made.
	if !hmac.Equal([]byte(sig), []byte(sign(secret, run, exp))) {
		return "", ErrRefused
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) {
		return "", ErrRefused
	}
	return run, nil
}

// sign covers the run and the expiry, with a context label so the MAC can
// mean nothing else.
func sign(secret []byte, run, exp string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("backupflow report link\n" + run + "\n" + exp))
	return hex.EncodeToString(m.Sum(nil))
}
