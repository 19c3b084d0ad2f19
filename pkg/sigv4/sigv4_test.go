package sigv4_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/backupflow/backupflow/pkg/sigv4"
)

var at = time.Date(2026, 12, 7, 23, 59, 58, 0, time.UTC)

// escape is how the S3 driver writes a key into a path.
func escape(key string) string {
	return (&url.URL{Path: key}).EscapedPath()
}

type signCase struct {
	name, method, url, service, token string
	body                              []byte
	headers                           map[string]string
}

var signCases = []signCase{
	{name: "sqs send", method: http.MethodPost, url: "https://sqs.us-east-1.amazonaws.com/", service: "sqs",
		body:    []byte(`{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/1/q","MessageBody":"hi"}`),
		headers: map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}},
	{name: "sqs with a session token on an emulator port", method: http.MethodPost, url: "http://127.0.0.1:4566/", service: "sqs", token: "tok/en+=",
		body: []byte(`{}`), headers: map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ReceiveMessage"}},
	{name: "s3 create-if-absent", method: http.MethodPut, url: "https://bk.s3.eu-west-1.amazonaws.com/" + escape("jobs/a b+c/ü~*.json"), service: "s3",
		body: []byte("{}"), headers: map[string]string{"If-None-Match": "*", "Content-Type": "application/octet-stream"}},
	{name: "s3 range get, spaces squeezed", method: http.MethodGet, url: "http://127.0.0.1:9000/bk/" + escape("mssql/a.bak"), service: "s3",
		headers: map[string]string{"Range": "bytes=0-7", "X-Amz-Meta-Note": "  two   spaces  "}},
	{name: "s3 list page", method: http.MethodGet, url: "https://bk.s3.us-east-1.amazonaws.com/?list-type=2&prefix=" + url.QueryEscape("open/a b*~") + "&continuation-token=" + url.QueryEscape("1/x=+"), service: "s3",
		token: "session"},
	{name: "head on the default port", method: http.MethodHead, url: "https://s3.us-east-1.amazonaws.com:443/bk/k", service: "s3"},
	{name: "an emulator on port 80", method: http.MethodGet, url: "http://minio.local:80/bk/k", service: "s3"},
	{name: "a token with tabs around it", method: http.MethodPost, url: "https://sqs.us-east-1.amazonaws.com/", service: "sqs", token: "\ttok\t",
		body: []byte(`{}`), headers: map[string]string{"X-Amz-Target": "AmazonSQS.SendMessage", "X-Amz-Meta-T": "a\t"}},
}

// TestSignMatchesTheSDK: our Authorization is the one aws-sdk-go-v2's own
// signer computes for the same request, byte for byte.
func TestSignMatchesTheSDK(t *testing.T) {
	for _, tc := range signCases {
		t.Run(tc.name, func(t *testing.T) {
			ours, theirs := tc.request(t), tc.request(t)
			hash := sigv4.PayloadHash(tc.body)
			if tc.service == "s3" {
				// S3 wants the hash as a header as well; both sign it.
				ours.Header.Set("X-Amz-Content-Sha256", hash)
				theirs.Header.Set("X-Amz-Content-Sha256", hash)
			}
			creds := sigv4.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: tc.token}
			sigv4.Signer{Service: tc.service, Region: region(tc), Credentials: creds}.Sign(ours, hash, at)
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID,
				SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}, theirs, hash, tc.service, region(tc), at,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tc.service == "s3" })
			if err != nil {
				t.Fatal(err)
			}
			// The host sent is the host signed: net/http writes r.Host.
			if ours.Host != theirs.Host {
				t.Errorf("Host: ours %q, sdk %q", ours.Host, theirs.Host)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if got, want := ours.Header.Get(h), theirs.Header.Get(h); got != want {
					t.Errorf("%s:\n ours %q\n  sdk %q", h, got, want)
				}
			}
		})
	}
}

func region(tc signCase) string {
	if tc.service == "s3" && tc.name == "s3 create-if-absent" {
		return "eu-west-1"
	}
	return "us-east-1"
}

func (tc signCase) request(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest(tc.method, tc.url, bytes.NewReader(tc.body))
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.body) == 0 {
		r.Body, r.ContentLength = http.NoBody, 0
	}
	for k, v := range tc.headers {
		r.Header.Set(k, v)
	}
	return r
}

// TestPresignMatchesTheSDK: a presigned GET is the URL the SDK's signer
// makes for it, with and without a session token.
func TestPresignMatchesTheSDK(t *testing.T) {
	for _, token := range []string{"", "FQoGZXIvYXdzE+/="} {
		u, _ := url.Parse("https://bk.s3.us-east-1.amazonaws.com/" + escape("mssql/orders 2026/ü.bak"))
		creds := sigv4.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: token}
		got := sigv4.Signer{Service: "s3", Region: "us-east-1", Credentials: creds}.Presign(u, time.Hour, at)

		r, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		q := r.URL.Query()
		q.Set("X-Amz-Expires", "3600")
		r.URL.RawQuery = q.Encode()
		want, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID,
			SecretAccessKey: creds.SecretAccessKey, SessionToken: token}, r, sigv4.UnsignedPayload, "s3", "us-east-1", at,
			func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("token %q:\n ours %s\n  sdk %s", token, got, want)
		}
	}
}

// FuzzSignMatchesTheSDK: for any object key and header value the two
// signers agree.
func FuzzSignMatchesTheSDK(f *testing.F) {
	f.Add("jobs/a b/c.json", "bytes=0-7", "prefix x")
	f.Add("%2F/..//~!*'()", "  a  b ", "ü=&+")
	f.Fuzz(func(t *testing.T, key, value, prefix string) {
		u, err := url.Parse("https://bk.s3.us-east-1.amazonaws.com/" + escape(key) + "?prefix=" + url.QueryEscape(prefix))
		if err != nil {
			t.Skip()
		}
		ours, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			t.Skip()
		}
		if !validHeaderValue(value) {
			t.Skip()
		}
		ours.Header.Set("X-Amz-Meta-V", value)
		theirs := ours.Clone(context.Background())
		creds := sigv4.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}
		sigv4.Signer{Service: "s3", Region: "us-east-1", Credentials: creds}.Sign(ours, sigv4.EmptyHash, at)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}, theirs,
			sigv4.EmptyHash, "s3", "us-east-1", at, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
			t.Fatal(err)
		}
		if got, want := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); got != want {
			t.Errorf("key %q value %q prefix %q:\n ours %s\n  sdk %s", key, value, prefix, got, want)
		}
	})
}

// validHeaderValue: what net/http would send (no control characters but tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func TestPayloadHash(t *testing.T) {
	if got := sigv4.PayloadHash(nil); got != sigv4.EmptyHash {
		t.Errorf("PayloadHash(nil) = %s; want EmptyHash", got)
	}
}
