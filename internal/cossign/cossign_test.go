package cossign_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tencentyun/cos-go-sdk-v5"

	"github.com/backupflow/backupflow/internal/cossign"
)

func sigOf(t *testing.T, auth string) string {
	t.Helper()
	a, err := cossign.ParseAuthorization(auth)
	if err != nil {
		t.Fatalf("ParseAuthorization(%q): %v", auth, err)
	}
	return a.Signature
}

// Vendor vectors from the COS signature documentation (facts §A.2.6).
func TestSignVendorVectors(t *testing.T) {
	start, end := time.Unix(1417773892, 0), time.Unix(1417853898, 0)
	host := "bucket1-1254000000.cos.ap-beijing.myqcloud.com"
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		headerList string
		want       string
	}{
		{"put with sha1 and storage class", "PUT", "/testfile2", http.Header{
			"Host":                {host},
			"X-Cos-Content-Sha1":  {"7b502c3a1f48c8609ae212cdfb639dee39673f5e"},
			"X-Cos-Storage-Class": {"nearline"},
		}, "host;x-cos-content-sha1;x-cos-storage-class", "84f5be2187452d2fe276dbdca932143ef8161145"},
		{"get with range", "GET", "/testfile", http.Header{
			"Host":  {host},
			"Range": {"bytes=0-3"},
		}, "host;range", "4b6cbab14ce01381c29032423481ebffd514e8be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := cossign.Sign(cossign.Params{SecretID: "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q",
				SecretKey: "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz", Method: tt.method, Path: tt.path,
				Header: tt.header, Start: start, End: end})
			if got := sigOf(t, auth); got != tt.want {
				t.Errorf("signature = %s; want %s", got, tt.want)
			}
			a, _ := cossign.ParseAuthorization(auth)
			if got := strings.Join(a.HeaderList, ";"); got != tt.headerList {
				t.Errorf("header list = %q; want %q", got, tt.headerList)
			}
			if a.SignTime != "1417773892;1417853898" || a.KeyTime != a.SignTime {
				t.Errorf("times = %q, %q", a.SignTime, a.KeyTime)
			}
		})
	}
}

const (
	testID     = "AKIDEXAMPLE"
	testKey    = "SKEXAMPLE"
	testToken  = "tok/en+1="
	testBucket = "backups-1250000000"
	testHost   = testBucket + ".cos.ap-guangzhou.myqcloud.com"
)

var (
	vecStart = time.Unix(1700000000, 0)
	vecEnd   = time.Unix(1700021600, 0)
	vecNow   = time.Unix(1700010000, 0)
)

func lookup(id string) (string, bool) {
	if id == testID {
		return testKey, true
	}
	return "", false
}

func sdkClient(t *testing.T, base string, token string) *cos.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return cos.NewClient(&cos.BaseURL{BucketURL: u}, &http.Client{Transport: &cos.AuthorizationTransport{
		SecretID: testID, SecretKey: testKey, SessionToken: token}})
}

func fixedTime() *cos.AuthTime {
	return &cos.AuthTime{SignStartTime: vecStart, SignEndTime: vecEnd, KeyStartTime: vecStart, KeyEndTime: vecEnd}
}

// SDK vectors (facts §A.2.6): the Go SDK presigns with a fixed AuthTime, the
// signature must match the recorded one, Sign must produce it independently
// and Verify must accept the URL as a server receives it.
func TestSDKVectors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		base       string
		key        string
		token      string // "" uses GetPresignedURL with a permanent key
		noHost     bool
		signedPath string
		headerList string
		paramList  string
		want       string
	}{
		{"token", "https://" + testHost, "mssql/orders.bak", testToken, false, "/mssql/orders.bak",
			"host", "x-cos-security-token", "e8115f222ade1d40ab80f22a1479e8e46fb3e49c"},
		{"token, spaces and reserved", "https://" + testHost, "mssql/db 1 (prod)*.bak", testToken, false,
			"/mssql/db 1 (prod)*.bak", "host", "x-cos-security-token", "813399d03c8436cb526ca9f1e3b27d00844a0dd3"},
		{"token, leading slash and utf-8", "https://" + testHost, "/lead/中文.bak", testToken, false,
			"//lead/中文.bak", "host", "x-cos-security-token", "b3ab411804c63b58dc8a93c78d6b31591e36bc0c"},
		{"permanent key", "https://" + testHost, "mssql/orders.bak", "", false, "/mssql/orders.bak",
			"host", "", "ea80e3b3d646071681e961f6107c9f602da5336a"},
		{"host not signed", "https://" + testHost, "mssql/orders.bak", "", true, "/mssql/orders.bak",
			"", "", "6ecaabb111a13530f8bee5f795bfc878e841a2de"},
		{"host with port", "http://127.0.0.1:9000", "mssql/orders.bak", "", false, "/mssql/orders.bak",
			"host", "", "507128e8e9ce65664ae2668562121628ab2219f7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sdkClient(t, tt.base, tt.token)
			opt := &cos.PresignedURLOptions{AuthTime: fixedTime()}
			var u *url.URL
			var err error
			if tt.token != "" {
				u, err = c.Object.GetPresignedURL2(ctx, http.MethodGet, tt.key, time.Hour, opt, !tt.noHost)
			} else {
				u, err = c.Object.GetPresignedURL(ctx, http.MethodGet, tt.key, testID, testKey, time.Hour, opt, !tt.noHost)
			}
			if err != nil {
				t.Fatalf("presign: %v", err)
			}
			q := u.Query()
			if got := q.Get("q-signature"); got != tt.want {
				t.Errorf("SDK signature = %s; want %s", got, tt.want)
			}
			if got := q.Get("q-header-list"); got != tt.headerList {
				t.Errorf("q-header-list = %q; want %q", got, tt.headerList)
			}
			if got := q.Get("q-url-param-list"); got != tt.paramList {
				t.Errorf("q-url-param-list = %q; want %q", got, tt.paramList)
			}

			p := cossign.Params{SecretID: testID, SecretKey: testKey, Method: "GET", Path: tt.signedPath,
				Start: vecStart, End: vecEnd, Header: http.Header{}}
			if !tt.noHost {
				p.Header.Set("Host", u.Host)
			}
			if tt.token != "" {
				p.Query = url.Values{"x-cos-security-token": {tt.token}}
			}
			if got := sigOf(t, cossign.Sign(p)); got != tt.want {
				t.Errorf("Sign = %s; want %s", got, tt.want)
			}

			r := httptest.NewRequest(http.MethodGet, u.String(), nil)
			if err := cossign.Verify(r, vecNow, lookup); err != nil {
				t.Errorf("Verify(SDK URL) = %v; want nil", err)
			}
		})
	}
}

func TestSDKRow1FullURL(t *testing.T) {
	c := sdkClient(t, "https://"+testHost, testToken)
	u, err := c.Object.GetPresignedURL2(context.Background(), http.MethodGet, "mssql/orders.bak", time.Hour,
		&cos.PresignedURLOptions{AuthTime: fixedTime()})
	if err != nil {
		t.Fatal(err)
	}
	want := "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/mssql/orders.bak?x-cos-security-token=tok%2Fen%2B1%3D&q-sign-algorithm=sha1&q-ak=AKIDEXAMPLE&q-sign-time=1700000000%3B1700021600&q-key-time=1700000000%3B1700021600&q-header-list=host&q-url-param-list=x-cos-security-token&q-signature=e8115f222ade1d40ab80f22a1479e8e46fb3e49c"
	if got := u.String(); got != want {
		t.Errorf("URL =\n%s\nwant\n%s", got, want)
	}
	// The same URL built from Sign and Query.
	auth := cossign.Sign(cossign.Params{SecretID: testID, SecretKey: testKey, Method: "get", Path: "/mssql/orders.bak",
		Query: url.Values{"x-cos-security-token": {testToken}}, Header: http.Header{"Host": {testHost}},
		Start: vecStart, End: vecEnd})
	built := "https://" + testHost + "/mssql/orders.bak?x-cos-security-token=" + cossign.Escape(testToken) + "&" + cossign.Query(auth)
	if built != want {
		t.Errorf("built URL =\n%s\nwant\n%s", built, want)
	}
}

func presigned(t *testing.T, key, token string, merged bool) string {
	t.Helper()
	c := sdkClient(t, "https://"+testHost, token)
	u, err := c.Object.GetPresignedURL2(context.Background(), http.MethodGet, key, time.Hour,
		&cos.PresignedURLOptions{AuthTime: fixedTime(), SignMerged: merged})
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

func TestVerifyRejects(t *testing.T) {
	good := presigned(t, "mssql/orders.bak", testToken, false)
	tests := []struct {
		name   string
		method string
		url    string
		now    time.Time
		lookup func(string) (string, bool)
		edit   func(r *http.Request)
		want   error
	}{
		{"valid", "GET", good, vecNow, lookup, nil, nil},
		{"valid with unsigned range", "GET", good, vecNow, lookup, func(r *http.Request) { r.Header.Set("Range", "bytes=0-7") }, nil},
		{"valid with extra param", "GET", good + "&response-content-type=x", vecNow, lookup, nil, nil},
		{"merged sign form", "GET", presigned(t, "mssql/orders.bak", testToken, true), vecNow, lookup, nil, nil},
		{"expired", "GET", good, vecEnd.Add(time.Second), lookup, nil, cossign.ErrExpired},
		{"end second itself is valid", "GET", good, vecEnd, lookup, nil, nil},
		{"not yet valid", "GET", good, vecStart.Add(-time.Second), lookup, nil, cossign.ErrNotYetValid},
		{"tampered key", "GET", strings.Replace(good, "orders.bak", "orders2.bak", 1), vecNow, lookup, nil, cossign.ErrSignatureMismatch},
		{"tampered token", "GET", strings.Replace(good, "tok%2Fen", "tok%2Fex", 1), vecNow, lookup, nil, cossign.ErrSignatureMismatch},
		{"token dropped", "GET", strings.Replace(good, "x-cos-security-token=tok%2Fen%2B1%3D&", "", 1), vecNow, lookup, nil, cossign.ErrSignatureMismatch},
		{"other host", "GET", strings.Replace(good, "ap-guangzhou", "ap-shanghai", 1), vecNow, lookup, nil, cossign.ErrSignatureMismatch},
		{"method is signed", "HEAD", good, vecNow, lookup, nil, cossign.ErrSignatureMismatch},
		{"wrong secret", "GET", good, vecNow, func(string) (string, bool) { return "other", true }, nil, cossign.ErrSignatureMismatch},
		{"unknown key", "GET", good, vecNow, func(string) (string, bool) { return "", false }, nil, cossign.ErrUnknownKey},
		{"no signature", "GET", "https://" + testHost + "/mssql/orders.bak", vecNow, lookup, nil, cossign.ErrNoSignature},
		{"bad algorithm", "GET", strings.Replace(good, "q-sign-algorithm=sha1", "q-sign-algorithm=md5", 1), vecNow, lookup, nil, cossign.ErrAlgorithm},
		{"bad window", "GET", strings.Replace(good, "q-sign-time=1700000000", "q-sign-time=x", 1), vecNow, lookup, nil, cossign.ErrMalformed},
		{"signature missing", "GET", strings.Replace(good, "&q-signature=", "&q-sig=", 1), vecNow, lookup, nil, cossign.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.url, nil)
			if tt.edit != nil {
				tt.edit(r)
			}
			err := cossign.Verify(r, tt.now, tt.lookup)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v; want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "e8115f") {
				t.Errorf("error leaks the signature: %v", err)
			}
		})
	}
}

func TestVerifyHeaderForm(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPut, "http://"+testHost+"/ledger/a%20b?acl", nil)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("x-cos-forbid-overwrite", "true") // not in the SDK's signed set: tolerated
	cos.AddAuthorizationHeader(testID, testKey, testToken, req, fixedTime())

	// What the server sees: Host moved out of the header map.
	r := httptest.NewRequest(http.MethodPut, req.URL.String(), nil)
	r.Header = req.Header.Clone()
	r.Header.Del("Host")

	v := &cossign.Verifier{Lookup: lookup, Token: func(string) (string, bool) { return testToken, true }}
	if err := v.Verify(r, vecNow); err != nil {
		t.Fatalf("Verify(header form) = %v", err)
	}
	r.Header.Set("Content-Type", "text/plain")
	if err := v.Verify(r, vecNow); !errors.Is(err, cossign.ErrSignatureMismatch) {
		t.Errorf("Verify(changed signed header) = %v; want mismatch", err)
	}
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("x-cos-security-token", "other")
	if err := v.Verify(r, vecNow); !errors.Is(err, cossign.ErrToken) {
		t.Errorf("Verify(wrong token) = %v; want ErrToken", err)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc-_.~XYZ09", "abc-_.~XYZ09"},
		{"a b", "a%20b"},
		{"!'()*", "%21%27%28%29%2A"},
		{"tok/en+1=", "tok%2Fen%2B1%3D"},
		{"中", "%E4%B8%AD"},
		{"Thu, 16 May 2019 03:15:06 GMT", "Thu%2C%2016%20May%202019%2003%3A15%3A06%20GMT"},
	}
	for _, tt := range tests {
		if got := cossign.Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// The documented parameter example: sorted by encoded key.
func TestSignParamOrder(t *testing.T) {
	auth := cossign.Sign(cossign.Params{SecretID: "id", SecretKey: "k", Method: "GET", Path: "/",
		Query: url.Values{"prefix": {"example-folder/"}, "delimiter": {"/"}, "max-keys": {"10"}},
		Start: vecStart, End: vecEnd})
	a, _ := cossign.ParseAuthorization(auth)
	if got := strings.Join(a.ParamList, ";"); got != "delimiter;max-keys;prefix" {
		t.Errorf("param list = %q", got)
	}
	r := httptest.NewRequest("GET", "http://h/?prefix=example-folder%2F&delimiter=%2F&max-keys=10", nil)
	r.Header.Set("Authorization", auth)
	if err := cossign.Verify(r, vecNow, func(string) (string, bool) { return "k", true }); err != nil {
		t.Errorf("Verify = %v", err)
	}
}
