package tencent

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// sdkCapture answers every request with an empty Response and keeps the
// last one the SDK sent.
type sdkCapture struct {
	req  *http.Request
	body []byte
}

func (c *sdkCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	c.req, c.body = r, b
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"Response":{"RequestId":"r"}}`)), Request: r}, nil
}

// sdkSigned has the SDK's common client sign and send an action; it
// returns what went on the wire.
func sdkSigned(t testing.TB, id, key, token, region, endpoint, service string, params map[string]any) *sdkCapture {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = endpoint
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.DisableRegionBreaker = true
	cpf.Language = "en-US" // as the client this package replaced asked
	cl := common.NewCommonClient(common.NewTokenCredential(id, key, token), region, cpf)
	capt := &sdkCapture{}
	cl.WithHttpTransport(capt)
	req := tchttp.NewCommonRequest(service, "2017-03-20", "DescribeBackups")
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	if err := cl.Send(req, tchttp.NewCommonResponse()); err != nil {
		t.Fatal(err)
	}
	return capt
}

// ours is the Authorization this package computes for what the SDK sent.
func ours(t testing.TB, capt *sdkCapture, id, key, service string) string {
	t.Helper()
	ts, err := strconv.ParseInt(capt.req.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var k tc3Keys
	return tc3Authorization(id, k.get(key, tc3Date(ts), service), service, capt.req.Host, ts, capt.body)
}

// TestTC3MatchesTheSDK: for what the SDK's own client sends (its body, its
// host, its timestamp), this package's Authorization is the SDK's, byte for
// byte, across hosts, services, keys and bodies.
func TestTC3MatchesTheSDK(t *testing.T) {
	for _, tc := range []struct {
		name, id, key, token, region, endpoint, service string
		params                                          map[string]any
	}{
		{"emulator host:port", "AKIDtest", "key", "", "ap-guangzhou", "127.0.0.1:9000", "cdb",
			map[string]any{"InstanceId": "cdb-c1nl9rpv", "Limit": 100}},
		{"real host, token", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "tok/en+==", "ap-singapore",
			"sqlserver.intl.tencentcloudapi.com", "sqlserver", map[string]any{"InstanceId": "mssql-i1z41iwd", "Strategy": 0, "DBNames": []string{"db1"}}},
		{"unicode and escapes", "id", "k", "", "", "mongodb.tencentcloudapi.com", "mongodb",
			map[string]any{"BackupRemark": "夜间 <backup> & \"quotes\"", "BackupMethod": 0}},
		{"no parameters", "id", "k", "", "ap-guangzhou", "tag.tencentcloudapi.com", "tag", map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capt := sdkSigned(t, tc.id, tc.key, tc.token, tc.region, tc.endpoint, tc.service, tc.params)
			if got, want := ours(t, capt, tc.id, tc.key, tc.service), capt.req.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s (the SDK's)", got, want)
			}
		})
	}
}

// TestCallSendsWhatTheSDKSends: the request Call puts on the wire carries
// the headers the SDK's client sends, for the same action, and a body of
// the same bytes.
func TestCallSendsWhatTheSDKSends(t *testing.T) {
	params := map[string]any{"InstanceId": "cdb-c1nl9rpv", "Limit": 100}
	sdk := sdkSigned(t, "AKIDtest", "key", "tok", "ap-guangzhou", "127.0.0.1:9000", "cdb", params)
	capt := &sdkCapture{}
	c, err := New(Config{Credentials: Credentials{SecretID: "AKIDtest", SecretKey: "key", Token: "tok"},
		Region: "ap-guangzhou", Endpoint: "127.0.0.1:9000", Transport: capt, NoPace: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(t.Context(), Action{Service: "cdb", Version: "2017-03-20", Name: "DescribeBackups"}, params, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(capt.body, sdk.body) {
		t.Errorf("body %s; the SDK sends %s", capt.body, sdk.body)
	}
	if capt.req.Method != sdk.req.Method || capt.req.URL.String() != sdk.req.URL.String() || capt.req.Host != sdk.req.Host {
		t.Errorf("%s %s (host %s); the SDK sends %s %s (host %s)", capt.req.Method, capt.req.URL, capt.req.Host,
			sdk.req.Method, sdk.req.URL, sdk.req.Host)
	}
	for _, h := range []string{"Content-Type", "X-TC-Action", "X-TC-Version", "X-TC-Region", "X-TC-Token", "X-TC-Language"} {
		if got, want := capt.req.Header.Get(h), sdk.req.Header.Get(h); got != want {
			t.Errorf("%s: %q; the SDK sends %q", h, got, want)
		}
	}
	// Signed at its own second, the Authorization is checked against the
	// SDK's signer for what Call sent.
	if got, want := capt.req.Header.Get("Authorization"), ours(t, capt, "AKIDtest", "key", "cdb"); got != want {
		t.Errorf("Authorization %s; want %s", got, want)
	}
}

// FuzzTC3MatchesTheSDK: any key and parameter value, signed by the SDK and
// by this package, give the same Authorization.
func FuzzTC3MatchesTheSDK(f *testing.F) {
	f.Add("key", "cdb-c1nl9rpv", int64(100))
	f.Add("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "夜间\x00\"\\<>&", int64(-1))
	f.Fuzz(func(t *testing.T, key, value string, n int64) {
		params := map[string]any{"InstanceId": value, "Limit": n}
		capt := sdkSigned(t, "AKIDtest", key, "", "ap-guangzhou", "127.0.0.1:9000", "cdb", params)
		if got, want := ours(t, capt, "AKIDtest", key, "cdb"), capt.req.Header.Get("Authorization"); got != want {
			t.Errorf("Authorization\n got %s\nwant %s (the SDK's)", got, want)
		}
	})
}
