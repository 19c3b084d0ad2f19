package cossign

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Params is everything one signature covers. Every entry of Query and Header
// is signed; choose the subset before calling Sign.
type Params struct {
	SecretID  string
	SecretKey string
	Method    string // any case; signed lower-cased
	// Path is the decoded request path starting with "/" (url.URL.Path, not
	// the escaped form): COS signs "/mssql/db 1.bak", not "/mssql/db%201.bak".
	Path string
	// Query holds decoded parameter values to sign (the session token of a
	// presigned URL belongs here as x-cos-security-token).
	Query url.Values
	// Header holds headers to sign; put the Host (with a non-default port)
	// under "Host".
	Header http.Header
	// Start and End bound the validity window; they are signed at second
	// precision.
	Start, End time.Time
}

// Sign returns the COS authorization string
// "q-sign-algorithm=sha1&q-ak=…&q-sign-time=…&q-key-time=…&q-header-list=…&q-url-param-list=…&q-signature=…",
// usable as the Authorization header or, through Query, as a presigned URL.
func Sign(p Params) string {
	keyTime := KeyTime(p.Start, p.End)
	params, paramList := canonical(lowerValues(p.Query))
	headers, headerList := canonical(lowerValues(url.Values(p.Header)))
	sig := signature(p.SecretKey, keyTime, p.Method, p.Path, params, headers)
	return authorization(p.SecretID, keyTime, headerList, paramList, sig)
}

// KeyTime formats a validity window as COS does: "<start>;<end>" in Unix seconds.
func KeyTime(start, end time.Time) string {
	return strconv.FormatInt(start.Unix(), 10) + ";" + strconv.FormatInt(end.Unix(), 10)
}

// Query turns an authorization string into the query parameters of a
// presigned URL (q-* pairs, values URL-encoded), ready to append after "&".
func Query(auth string) string {
	parts := strings.Split(auth, "&")
	for i, kv := range parts {
		k, v, _ := strings.Cut(kv, "=")
		parts[i] = k + "=" + Escape(v)
	}
	return strings.Join(parts, "&")
}

func authorization(secretID, keyTime, headerList, paramList, sig string) string {
	return "q-sign-algorithm=sha1&q-ak=" + secretID +
		"&q-sign-time=" + keyTime + "&q-key-time=" + keyTime +
		"&q-header-list=" + headerList + "&q-url-param-list=" + paramList +
		"&q-signature=" + sig
}

// signature runs steps 2, 5, 6 and 7 of the algorithm; params and headers are
// already in canonical "k=v&k=v" form.
func signature(secretKey, keyTime, method, path, params, headers string) string {
	signKey := hexHMAC([]byte(secretKey), keyTime)
	httpString := strings.ToLower(method) + "\n" + path + "\n" + params + "\n" + headers + "\n"
	sum := sha1.Sum([]byte(httpString))
	stringToSign := "sha1\n" + keyTime + "\n" + hex.EncodeToString(sum[:]) + "\n"
	// The HMAC key of the last step is the hex text of SignKey, not its bytes.
	return hexHMAC([]byte(signKey), stringToSign)
}

func hexHMAC(key []byte, msg string) string {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// lowerValues re-keys v by its encoded, lower-cased key, merging keys that
// differ only in case the way the SDK's signer does.
func lowerValues(v url.Values) map[string][]string {
	out := make(map[string][]string, len(v))
	for k, vals := range v {
		ek := strings.ToLower(Escape(k))
		out[ek] = append(out[ek], vals...)
	}
	return out
}

// canonical builds "k1=v1&k2=v2" and "k1;k2" sorted by encoded key, with the
// values of one key sorted too.
func canonical(m map[string][]string) (pairs, list string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vals := append([]string(nil), m[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(Escape(v))
		}
	}
	return b.String(), strings.Join(keys, ";")
}

// Escape is the COS UrlEncode: RFC 3986 unreserved bytes stay, every other
// byte becomes %XX with upper-case hex (so !'()* are encoded too).
func Escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// Error is a verification failure carrying the COS error code and message the
// server answers with (HTTP 403 for all of them). It never holds the
// signature, the token or the URL.
type Error struct {
	Code    string // COS error code, e.g. "SignatureDoesNotMatch"
	Message string
}

func (e *Error) Error() string { return "cossign: " + e.Code + ": " + e.Message }

// The verification failures; compare with errors.Is.
var (
	ErrNoSignature       = &Error{"AccessDenied", "Access Denied."}
	ErrMalformed         = &Error{"AccessDenied", "malformed authorization"}
	ErrAlgorithm         = &Error{"InvalidAccessKeyId", "unsupported q-sign-algorithm, want sha1"}
	ErrUnknownKey        = &Error{"InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records."}
	ErrExpired           = &Error{"AccessDenied", "Request has expired"}
	ErrNotYetValid       = &Error{"RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."}
	ErrSignatureMismatch = &Error{"SignatureDoesNotMatch", "The Signature you specified is invalid."}
	ErrToken             = &Error{"InvalidAccessKeyId", "the security token is missing or does not belong to this access key"}
)

// Auth is a parsed authorization string. Signature is a secret-equivalent
// value only for the request it signs; do not log it anyway.
type Auth struct {
	Algorithm  string
	SecretID   string
	SignTime   string
	KeyTime    string
	HeaderList []string
	ParamList  []string
	Signature  string
}

var authFields = []string{"q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time",
	"q-header-list", "q-url-param-list", "q-signature"}

// ParseAuthorization parses the raw (not URL-encoded) authorization string of
// the header form or the decoded value of the merged sign= parameter.
func ParseAuthorization(s string) (Auth, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = v
	}
	return authFromMap(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func authFromMap(get func(string) (string, bool)) (Auth, error) {
	var vals [7]string
	for i, f := range authFields {
		v, ok := get(f)
		// Lists may be empty; every other field must carry a value.
		if !ok || (v == "" && f != "q-header-list" && f != "q-url-param-list") {
			return Auth{}, fmt.Errorf("%w: %s missing", ErrMalformed, f)
		}
		vals[i] = v
	}
	return Auth{Algorithm: vals[0], SecretID: vals[1], SignTime: vals[2], KeyTime: vals[3],
		HeaderList: splitList(vals[4]), ParamList: splitList(vals[5]), Signature: vals[6]}, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// FromRequest finds the signature of r: the Authorization header, else the
// merged sign= parameter, else the q-* query parameters of a presigned URL.
func FromRequest(r *http.Request) (Auth, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return ParseAuthorization(h)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// A malformed pair elsewhere must not hide a valid signature, so go on
		// with what parsed; ParseQuery keeps the good pairs.
		if q == nil {
			return Auth{}, fmt.Errorf("%w: query", ErrMalformed)
		}
	}
	if s, ok := q["sign"]; ok && len(s) > 0 {
		return ParseAuthorization(s[0])
	}
	if _, ok := q["q-signature"]; !ok {
		if _, ok := q["q-sign-algorithm"]; !ok {
			return Auth{}, ErrNoSignature
		}
	}
	return authFromMap(func(k string) (string, bool) {
		v, ok := q[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	})
}

func parseWindow(s string) (start, end int64, err error) {
	a, b, ok := strings.Cut(s, ";")
	if !ok {
		return 0, 0, fmt.Errorf("%w: time window", ErrMalformed)
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || end <= start {
		return 0, 0, fmt.Errorf("%w: time window", ErrMalformed)
	}
	return start, end, nil
}

// Verifier checks signed requests. Lookup is required; Token is optional.
type Verifier struct {
	// Lookup returns the secret key of a SecretId.
	Lookup func(secretID string) (secretKey string, ok bool)
	// Token, when set, returns the session token a SecretId must present
	// (required true), as temporary credentials do. The token may travel
	// signed or unsigned, in the x-cos-security-token header or parameter.
	Token func(secretID string) (token string, required bool)
}

// Verify checks a request signed by header or by presigned query with a
// permanent key; see Verifier.Verify.
func Verify(r *http.Request, now time.Time, lookup func(secretID string) (secretKey string, ok bool)) error {
	return (&Verifier{Lookup: lookup}).Verify(r, now)
}

// Verify checks r the way COS does: algorithm sha1, known SecretId, now inside
// the signed window, and the signature recomputed from the request as
// received — method, decoded path, only the listed parameters and headers
// (Host as received, port included). Unlisted headers and parameters (Range
// added by a downloader) are tolerated. The error is one of the Err values,
// possibly wrapped with a detail that never contains secrets.
func (v *Verifier) Verify(r *http.Request, now time.Time) error {
	a, err := FromRequest(r)
	if err != nil {
		return err
	}
	return v.check(r, a, now)
}

func (v *Verifier) check(r *http.Request, a Auth, now time.Time) error {
	if a.Algorithm != "sha1" {
		return ErrAlgorithm
	}
	if v.Lookup == nil {
		return ErrUnknownKey
	}
	secretKey, ok := v.Lookup(a.SecretID)
	if !ok {
		return ErrUnknownKey
	}
	for _, w := range []string{a.SignTime, a.KeyTime} {
		start, end, err := parseWindow(w)
		if err != nil {
			return err
		}
		if t := now.Unix(); t < start {
			return ErrNotYetValid
		} else if t > end {
			return ErrExpired
		}
	}

	query, _ := url.ParseQuery(r.URL.RawQuery)
	if v.Token != nil {
		if want, required := v.Token(a.SecretID); required {
			got := r.Header.Get("x-cos-security-token")
			if got == "" && len(query["x-cos-security-token"]) > 0 {
				got = query["x-cos-security-token"][0]
			}
			if !hmac.Equal([]byte(got), []byte(want)) {
				return ErrToken
			}
		}
	}

	params := lowerValues(query)
	signedParams := make(map[string][]string, len(a.ParamList))
	for _, k := range a.ParamList {
		vals, ok := params[k]
		if !ok {
			return fmt.Errorf("%w: signed parameter %q absent", ErrSignatureMismatch, k)
		}
		signedParams[k] = vals
	}
	signedHeaders := make(map[string][]string, len(a.HeaderList))
	for _, k := range a.HeaderList {
		vals := headerValues(r, k)
		if len(vals) == 0 {
			return fmt.Errorf("%w: signed header %q absent", ErrSignatureMismatch, k)
		}
		signedHeaders[k] = vals
	}
	p, _ := canonical(signedParams)
	h, _ := canonical(signedHeaders)
	// The SDK puts q-key-time into StringToSign; keep to it.
	want := signature(secretKey, a.KeyTime, r.Method, r.URL.Path, p, h)
	if !hmac.Equal([]byte(strings.ToLower(a.Signature)), []byte(want)) {
		return ErrSignatureMismatch
	}
	return nil
}

// headerValues reads a signed header as the server received it. Go's server
// moves Host and (sometimes) Content-Length out of the header map.
func headerValues(r *http.Request, lowerName string) []string {
	switch lowerName {
	case "host":
		if r.Host == "" {
			return nil
		}
		return []string{r.Host}
	case "content-length":
		if vals := r.Header.Values("Content-Length"); len(vals) > 0 {
			return vals
		}
		if r.ContentLength >= 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	}
	// Keys arrive lower-cased and encoded; a header name never needs encoding.
	var out []string
	for k, vals := range r.Header {
		if strings.EqualFold(k, lowerName) {
			out = append(out, vals...)
		}
	}
	return out
}

// Code returns the COS error code of a verification error, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
