// Package sigv4 signs HTTP requests with AWS Signature Version 4: signed
// headers for SQS and S3 calls, and presigned S3 GET URLs.
//
// It exists so the Lambda build calls SQS and S3 without aws-sdk-go-v2,
// whose per-service endpoint tables cost a third of a function's init
// (docs/benchmarks.md, issue 20). The signatures are pinned byte for byte to
// the SDK's own signer in this package's tests, and the emulator and the S3
// fake check every request with that signer.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// UnsignedPayload is the payload hash of a presigned URL: the body is not
// known when the URL is made.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// EmptyHash is the hex SHA-256 of an empty body.
const EmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
)

// Credentials are the keys a request is signed with. SessionToken is set
// for temporary keys, such as a Lambda execution role's.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Signer signs requests for one service in one region.
type Signer struct {
	Service, Region string
	Credentials     Credentials
}

// PayloadHash returns the hex SHA-256 of body.
func PayloadHash(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

// Sign adds X-Amz-Date, X-Amz-Security-Token (temporary keys) and
// Authorization to r, signing every header r carries then, its host and its
// content length. payloadHash is PayloadHash of the body. The canonical URI
// is r.URL.EscapedPath() as sent: right for S3, and for any service whose
// paths need no escaping (SQS posts to "/").
func (s Signer) Sign(r *http.Request, payloadHash string, at time.Time) {
	at = at.UTC()
	// net/http sends r.Host when set, else the URL's host with its port:
	// the host signed must be the one sent (a default port is dropped from
	// both, as the SDK does).
	r.Host = hostOf(r.URL, r.Host)
	r.Header.Set("X-Amz-Date", at.Format(timeFormat))
	if s.Credentials.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", s.Credentials.SessionToken)
	}
	names, canonical := canonicalHeaders(r)
	scope := s.scope(at)
	sig := s.signature(at, scope, r.Method, r.URL.EscapedPath(), canonicalQuery(r.URL.Query()), canonical, names, payloadHash)
	r.Header.Set("Authorization", algorithm+" Credential="+s.Credentials.AccessKeyID+"/"+scope+
		", SignedHeaders="+names+", Signature="+sig)
}

// Presign returns u as a GET URL valid for ttl from at, signed in its query
// with only the host header, as S3 presigned URLs are.
func (s Signer) Presign(u *url.URL, ttl time.Duration, at time.Time) string {
	at = at.UTC()
	scope := s.scope(at)
	q := u.Query()
	q.Set("X-Amz-Algorithm", algorithm)
	q.Set("X-Amz-Credential", s.Credentials.AccessKeyID+"/"+scope)
	q.Set("X-Amz-Date", at.Format(timeFormat))
	q.Set("X-Amz-Expires", strconv.Itoa(int(ttl/time.Second)))
	q.Set("X-Amz-SignedHeaders", "host")
	if s.Credentials.SessionToken != "" {
		q.Set("X-Amz-Security-Token", s.Credentials.SessionToken)
	}
	query := canonicalQuery(q)
	host := hostOf(u, "")
	sig := s.signature(at, scope, http.MethodGet, u.EscapedPath(), query, "host:"+host+"\n", "host", UnsignedPayload)
	out := *u
	out.RawQuery = query + "&X-Amz-Signature=" + sig
	return out.String()
}

func (s Signer) scope(at time.Time) string {
	return at.Format(dateFormat) + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

func (s Signer) signature(at time.Time, scope, method, uri, query, headers, names, payloadHash string) string {
	if uri == "" {
		uri = "/"
	}
	creq := method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + names + "\n" + payloadHash
	h := sha256.Sum256([]byte(creq))
	toSign := algorithm + "\n" + at.Format(timeFormat) + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	key := mac([]byte("AWS4"+s.Credentials.SecretAccessKey), at.Format(dateFormat))
	for _, part := range []string{s.Region, s.Service, "aws4_request"} {
		key = mac(key, part)
	}
	return hex.EncodeToString(mac(key, toSign))
}

func mac(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// unsigned are the headers proxies and transports may change in flight.
var unsigned = map[string]bool{"authorization": true, "user-agent": true, "x-amzn-trace-id": true,
	"expect": true, "transfer-encoding": true, "content-length": true, "host": true}

// canonicalHeaders returns the signed header names and the canonical header
// block: host, content-length when there is a body, and every other header
// r carries, lower-cased and sorted, values trimmed and joined by commas.
func canonicalHeaders(r *http.Request) (names, block string) {
	vals := map[string][]string{"host": {hostOf(r.URL, r.Host)}}
	if r.ContentLength > 0 {
		vals["content-length"] = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if unsigned[lk] {
			continue
		}
		vals[lk] = append(vals[lk], v...)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(':')
		for i, v := range vals[k] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(squeeze(v))
		}
		b.WriteByte('\n')
	}
	return strings.Join(keys, ";"), b.String()
}

// canonicalQuery is the query sorted by key then value, RFC 3986 escaped.
func canonicalQuery(q url.Values) string {
	for _, v := range q {
		sort.Strings(v)
	}
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// hostOf is the Host header as sent: r.Host when set, else the URL's host,
// without the scheme's default port (net/http drops it too).
func hostOf(u *url.URL, host string) string {
	if host == "" {
		host = u.Host
	}
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// squeeze collapses each run of spaces to one and trims white space off
// both ends, as net/http does to a value it sends and the SDK to one it
// signs.
func squeeze(v string) string {
	for strings.Contains(v, "  ") {
		v = strings.ReplaceAll(v, "  ", " ")
	}
	return strings.TrimSpace(v)
}
