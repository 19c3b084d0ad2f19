// Package cmqsign computes and checks the TDMQ-for-CMQ data-plane signature
// (the legacy CMQ HmacSHA1/HmacSHA256 scheme, not TC3), for client and emulator.
package cmqsign

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/url"
	"sort"
	"strings"
)

// Signature methods.
const (
	HmacSHA1   = "HmacSHA1"
	HmacSHA256 = "HmacSHA256"
)

// StringToSign is METHOD + host + path + "?" + every parameter but Signature
// as name=value, sorted by name, values raw (not URL-encoded). host includes
// the port when the endpoint names one. skipAt leaves out values starting
// with "@", as the PHP and Python SDKs do.
func StringToSign(method, host, path string, params url.Values, skipAt bool) string {
	names := make([]string, 0, len(params))
	for n := range params {
		if n == "Signature" {
			continue
		}
		if skipAt && strings.HasPrefix(params.Get(n), "@") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(strings.ToUpper(method))
	b.WriteString(host)
	b.WriteString(path)
	b.WriteByte('?')
	for i, n := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(strings.ReplaceAll(n, "_", "."))
		b.WriteByte('=')
		b.WriteString(params.Get(n))
	}
	return b.String()
}

// Sign returns the base64 Signature for params, with SHA-256 when params'
// SignatureMethod is exactly HmacSHA256 and SHA-1 otherwise.
func Sign(method, host, path string, params url.Values, secretKey string) string {
	return mac(params.Get("SignatureMethod"), secretKey, StringToSign(method, host, path, params, false))
}

// Verify reports whether params carry a valid Signature, computed either with
// or without "@"-prefixed values (servers' rule unknown; both are accepted).
// The comparison is constant-time.
func Verify(method, host, path string, params url.Values, secretKey string) bool {
	got := []byte(params.Get("Signature"))
	if len(got) == 0 {
		return false
	}
	m := params.Get("SignatureMethod")
	ok := hmac.Equal(got, []byte(mac(m, secretKey, StringToSign(method, host, path, params, false))))
	ok2 := hmac.Equal(got, []byte(mac(m, secretKey, StringToSign(method, host, path, params, true))))
	return ok || ok2
}

func mac(method, key, s string) string {
	h := sha1.New
	if method == HmacSHA256 {
		h = sha256.New
	}
	m := hmac.New(func() hash.Hash { return h() }, []byte(key))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
