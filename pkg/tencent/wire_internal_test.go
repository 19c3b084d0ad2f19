package tencent

import (
	"context"
	"strconv"
	"testing"

	"github.com/backupflow/backupflow/pkg/secret"
)

// serverSees is the signature a TC3 server computes: over the Host header
// it received (r.Host) and the body.
func serverSees(t *testing.T, c *sdkCapture, service string) string {
	ts, _ := strconv.ParseInt(c.req.Header.Get("X-TC-Timestamp"), 10, 64)
	var k tc3Keys
	return tc3Authorization("id", k.get("k", tc3Date(ts), service), service, c.req.Host, ts, c.body)
}

// TestBareEndpointWithPathSignsTheHostItSends: with
// BACKUPFLOW_TENCENT_ENDPOINT=host:port/prefix the SDK addressed
// http://host:port/prefix and signed host:port (completeRequest splits the
// endpoint at its first '/'); this package signs "host:port/prefix" while
// the Host header says host:port, so every call fails AuthFailure.
func TestBareEndpointWithPathSignsTheHostItSends(t *testing.T) {
	capt := &sdkCapture{}
	c, err := New(Config{Credentials: Credentials{SecretID: "id", SecretKey: secret.String("k")},
		Region: "ap-guangzhou", Endpoint: "127.0.0.1:9000/tc3", Transport: capt, NoPace: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(context.Background(), Action{Service: "cdb", Version: "2017-03-20", Name: "DescribeBackups"}, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := capt.req.URL.String(), "http://127.0.0.1:9000/tc3"; got != want {
		t.Errorf("URL %s; the SDK sent %s", got, want)
	}
	if got, want := capt.req.Header.Get("Authorization"), serverSees(t, capt, "cdb"); got != want {
		t.Errorf("Authorization signed for another host than the Host header %q:\n got %s\nwant %s", capt.req.Host, got, want)
	}
}
