// Package sigcheck verifies AWS SigV4 signed requests by recomputing them
// with aws-sdk-go-v2's own signer, so the emulator and test fakes check what
// our drivers send from the other side.
package sigcheck

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Errors Verify returns; callers map them to their service's codes.
var (
	ErrUnsigned   = errors.New("the request is not SigV4-signed")
	ErrUnknownKey = errors.New("unknown access key")
	ErrMismatch   = errors.New("the signature does not match")
)

// Auth is what a SigV4 Authorization header names.
type Auth struct {
	KeyID, Date, Region, Service string
	SignedHeaders                []string
	Signature                    string
}

// Parse reads "AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex". ok is false for anything else.
func Parse(h string) (Auth, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return Auth{}, false
	}
	var out Auth
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
				return Auth{}, false
			}
			out.KeyID, out.Date, out.Region, out.Service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			out.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			out.Signature = v
		}
	}
	return out, out.KeyID != "" && out.Signature != "" && len(out.SignedHeaders) > 0
}

// Key is the credential a server knows. An empty Secret checks the key id
// alone.
type Key struct{ ID, Secret string }

// Verify checks r's signature for service against key: the credential
// scope, then the signature recomputed by the SDK over the headers r says
// it signed and payloadHash. escapePath is the SDK's default for every
// service but S3, which signs the path as sent.
func Verify(r *http.Request, payloadHash, service string, key Key, escapePath bool) (Auth, error) {
	sig, ok := Parse(r.Header.Get("Authorization"))
	if !ok {
		return sig, ErrUnsigned
	}
	if key.ID != "" && sig.KeyID != key.ID {
		return sig, ErrUnknownKey
	}
	if key.Secret == "" {
		return sig, nil
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != sig.Date || sig.Service != service {
		return sig, ErrMismatch
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return sig, ErrMismatch
	}
	again.Host = r.Host
	for _, h := range sig.SignedHeaders {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			for _, v := range r.Header.Values(h) {
				again.Header.Add(h, v)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if key.ID == "" {
		creds.AccessKeyID = sig.KeyID
	}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, again, payloadHash, sig.Service, sig.Region, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = !escapePath })
	if err != nil {
		return sig, ErrMismatch
	}
	want, ok := Parse(again.Header.Get("Authorization"))
	if !ok || !hmac.Equal([]byte(want.Signature), []byte(sig.Signature)) {
		return sig, ErrMismatch
	}
	return sig, nil
}
