package sqsemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigV4 is what the Authorization header of a SigV4 request names.
type sigV4 struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

// parseSigV4 reads "AWS4-HMAC-SHA256 Credential=AK/date/region/sqs/aws4_request,
// SignedHeaders=a;b, Signature=hex". ok is false for anything else.
func parseSigV4(h string) (sigV4, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigV4{}, false
	}
	var out sigV4
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
				return sigV4{}, false
			}
			out.keyID, out.date, out.region, out.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			out.signedHeaders = strings.Split(v, ";")
		case "Signature":
			out.signature = v
		}
	}
	return out, out.keyID != "" && out.signature != "" && len(out.signedHeaders) > 0
}

// authorize checks the SigV4 credential scope and, when the server knows
// the secret, the signature itself, recomputed with aws-sdk-go-v2's own
// signer over the signed headers and the body.
func (s *Server) authorize(r *http.Request, body []byte) *apiError {
	sig, ok := parseSigV4(r.Header.Get("Authorization"))
	if !ok {
		return newErr(403, "MissingAuthenticationToken", "MissingAuthenticationToken",
			"the request must contain a valid (registered) AWS access key ID and a SigV4 signature")
	}
	if s.o.AccessKeyID == "" {
		return nil
	}
	if sig.keyID != s.o.AccessKeyID {
		return newErr(403, "InvalidClientTokenId", "InvalidClientTokenId", "the security token included in the request is invalid")
	}
	if s.o.SecretAccessKey == "" {
		return nil
	}
	bad := newErr(403, "SignatureDoesNotMatch", "SignatureDoesNotMatch",
		"the request signature we calculated does not match the signature you provided")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != sig.date || sig.service != "sqs" {
		return bad
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return bad
	}
	again.Host = r.Host
	for _, h := range sig.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = int64(len(body))
		default:
			for _, v := range r.Header.Values(h) {
				again.Header.Add(h, v)
			}
		}
	}
	hash := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.o.AccessKeyID, SecretAccessKey: s.o.SecretAccessKey,
		SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(hash[:]), sig.service, sig.region, at); err != nil {
		return bad
	}
	want, ok := parseSigV4(again.Header.Get("Authorization"))
	if !ok || !hmac.Equal([]byte(want.signature), []byte(sig.signature)) {
		return bad
	}
	return nil
}
