package huaweiemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signing constants of the APIG AK/SK scheme (facts/database-apis.md §6).
const (
	algorithm      = "SDK-HMAC-SHA256"
	dateHeader     = "X-Sdk-Date"
	dateFormat     = "20060102T150405Z"
	contentSHA     = "X-Sdk-Content-Sha256"
	unsignedBody   = "UNSIGNED-PAYLOAD"
	maxClockSkew   = 15 * time.Minute
	authHeaderName = "Authorization"
)

// authError is why a request failed authentication; code is the APIG code.
type authError struct {
	code string
	msg  string
}

// authorization is the parsed Authorization header.
type authorization struct {
	access        string
	signedHeaders []string
	signature     string
}

func parseAuthorization(v string) (authorization, error) {
	rest, ok := strings.CutPrefix(v, algorithm+" ")
	if !ok {
		return authorization{}, errors.New("authorization scheme is not " + algorithm)
	}
	var a authorization
	var haveHeaders bool
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, fmt.Errorf("authorization part %q has no '='", part)
		}
		switch k {
		case "Access":
			a.access = val
		case "SignedHeaders":
			haveHeaders = true
			a.signedHeaders = strings.Split(val, ";")
		case "Signature":
			a.signature = val
		default:
			return authorization{}, fmt.Errorf("authorization has unknown part %q", k)
		}
	}
	if a.access == "" || a.signature == "" || !haveHeaders {
		return authorization{}, errors.New("authorization lacks Access, SignedHeaders or Signature")
	}
	return a, nil
}

// escape percent-encodes everything outside the unreserved set, upper-case
// hex, as the signer does for path segments, query keys and values.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '_' || c == '-' || c == '~' || c == '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func canonicalURI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// stringToSign builds the canonical request for r and returns the string
// the signature covers. headerValue supplies each signed header's values.
func stringToSign(method, path string, q url.Values, signed []string, headerValue func(string) []string, payloadHash, date string) string {
	var hb strings.Builder
	for _, h := range signed {
		vals := headerValue(h)
		sorted := make([]string, len(vals))
		for i, v := range vals {
			sorted[i] = strings.TrimSpace(v)
		}
		sort.Strings(sorted)
		for _, v := range sorted {
			hb.WriteString(h + ":" + v + "\n")
		}
	}
	canonical := strings.Join([]string{
		method, canonicalURI(path), canonicalQuery(q), hb.String(),
		strings.Join(signed, ";"), payloadHash,
	}, "\n")
	return algorithm + "\n" + date + "\n" + hexSHA256([]byte(canonical))
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func requestHeaderValues(r *http.Request) func(string) []string {
	return func(name string) []string {
		if name == "host" {
			return []string{r.Host}
		}
		return r.Header.Values(name)
	}
}

// verify checks r's signature with the one key pair the emulator accepts.
// The signature is checked before the clock so that APIGW.0303 only ever
// means "your clock is off", never "your key is wrong".
func verify(r *http.Request, body []byte, ak, sk string, now time.Time) *authError {
	bad := func(msg string) *authError {
		return &authError{code: codeAuth, msg: "Incorrect IAM authentication information: " + msg}
	}
	a, err := parseAuthorization(r.Header.Get(authHeaderName))
	if err != nil {
		return bad(err.Error())
	}
	if a.access != ak {
		return bad("unknown access key")
	}
	hasDate := false
	for i, h := range a.signedHeaders {
		if h != strings.ToLower(h) || (i > 0 && a.signedHeaders[i-1] >= h) {
			return bad("signed headers must be lower-case, sorted and unique")
		}
		if h == "x-sdk-date" {
			hasDate = true
		}
		if h != "host" && len(r.Header.Values(h)) == 0 {
			return bad("signed header " + h + " is missing")
		}
	}
	if !hasDate {
		return bad("x-sdk-date is not signed")
	}
	date := r.Header.Get(dateHeader)
	t, err := time.Parse(dateFormat, date)
	if err != nil {
		return bad("malformed X-Sdk-Date")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return bad("malformed query string")
	}
	payload := hexSHA256(body)
	if r.Header.Get(contentSHA) == unsignedBody {
		payload = unsignedBody
	}
	sts := stringToSign(r.Method, r.URL.Path, q, a.signedHeaders, requestHeaderValues(r), payload, date)
	if !hmac.Equal([]byte(hmacHex(sk, sts)), []byte(strings.ToLower(a.signature))) {
		return bad("signature mismatch")
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return &authError{code: codeClockSkew, msg: fmt.Sprintf("Signature expired: X-Sdk-Date %s is %s from server time", date, d.Round(time.Second))}
	}
	return nil
}

// Sign signs r the way the official Go SDK does (X-Sdk-Date, then the
// Authorization header over every header already set except Content-Type),
// so tools and tests can replay raw documented requests. body must be the
// exact bytes r will send.
func Sign(r *http.Request, body []byte, ak, sk string, now time.Time) {
	date := now.UTC().Format(dateFormat)
	r.Header.Set(dateHeader, date)
	var signed []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || lk == "authorization" {
			continue
		}
		signed = append(signed, lk)
	}
	sort.Strings(signed)
	payload := hexSHA256(body)
	if r.Header.Get(contentSHA) == unsignedBody {
		payload = unsignedBody
	}
	sts := stringToSign(r.Method, r.URL.Path, r.URL.Query(), signed, requestHeaderValues(r), payload, date)
	r.Header.Set(authHeaderName, fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		algorithm, ak, strings.Join(signed, ";"), hmacHex(sk, sts)))
}
