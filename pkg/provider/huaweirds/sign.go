package huaweirds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// APIG AK/SK signing (facts/database-apis.md §6), the scheme the official
// SDK's signer implements; interop/ proves the two agree byte for byte.
const (
	signAlgorithm = "SDK-HMAC-SHA256"
	dateHeader    = "X-Sdk-Date"
	dateFormat    = "20060102T150405Z"
)

// sign dates r with now and sets its Authorization header. Every header
// already on r is signed except Content-Type and names with '_' (the
// gateway drops those); Host is not signed, as the SDK does not sign it.
// body must be the exact bytes r sends.
func sign(r *http.Request, body []byte, ak, sk string, now time.Time) {
	date := now.UTC().Format(dateFormat)
	r.Header.Set(dateHeader, date)
	var names []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || lk == "authorization" {
			continue
		}
		names = append(names, lk)
	}
	sort.Strings(names)
	var hb strings.Builder
	for _, n := range names {
		vals := r.Header.Values(n)
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.TrimSpace(v)
		}
		sort.Strings(trimmed)
		for _, v := range trimmed {
			hb.WriteString(n + ":" + v + "\n")
		}
	}
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{
		r.Method, canonicalPath(r.URL.Path), canonicalQuery(r.URL.Query()), hb.String(),
		strings.Join(names, ";"), hex.EncodeToString(sum[:]),
	}, "\n")
	crSum := sha256.Sum256([]byte(canonical))
	sts := signAlgorithm + "\n" + date + "\n" + hex.EncodeToString(crSum[:])
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(sts))
	r.Header.Set("Authorization", signAlgorithm+" Access="+ak+", SignedHeaders="+strings.Join(names, ";")+
		", Signature="+hex.EncodeToString(m.Sum(nil)))
}

// canonicalPath escapes each segment and always ends in '/': the gateway
// canonicalises /v3/p/backups and /v3/p/backups/ alike.
func canonicalPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = signEscape(s)
	}
	out := strings.Join(segs, "/")
	if !strings.HasSuffix(out, "/") {
		out += "/"
	}
	return out
}

// canonicalQuery sorts keys, and the values of each key, then escapes both.
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
			parts = append(parts, signEscape(k)+"="+signEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// signEscape percent-encodes every byte outside A-Z a-z 0-9 _ - ~ . with
// upper-case hex (url.PathEscape and QueryEscape each keep other bytes).
func signEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
