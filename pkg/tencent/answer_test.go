package tencent_test

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

type fixedAnswer struct {
	hdr  http.Header
	body []byte
}

func (f fixedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.ReadAll(r.Body)
	return &http.Response{StatusCode: 200, Header: f.hdr.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
}

func fixedClient(t *testing.T, f fixedAnswer) *tencent.Client {
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "id", SecretKey: secret.String("k")},
		Endpoint: "127.0.0.1:9", Transport: f, NoPace: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var createBackup = tencent.Action{Service: "cdb", Version: "2017-03-20", Name: "CreateBackup"}

// The SDK (decompressBodyReader) decoded Content-Encoding gzip/deflate itself.
func TestDeflatedAnswerIsDecoded(t *testing.T) {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, 5)
	_, _ = w.Write([]byte(`{"Response":{"Error":{"Code":"AuthFailure","Message":"m"},"RequestId":"r"}}`))
	_ = w.Close()
	c := fixedClient(t, fixedAnswer{http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"deflate"}}, z.Bytes()})
	err := c.Call(context.Background(), createBackup, struct{}{}, nil)
	if apierr.Code(err) != "AuthFailure" || apierr.KindOf(err) != apierr.Permanent {
		t.Errorf("err = %v (kind %v); the SDK reported AuthFailure, permanent", err, apierr.KindOf(err))
	}
}

// The SDK read Response.Error in a decode of its own; one stray
// top-level field of another type must not hide the API's error.
func TestAPIErrorSurvivesAStrayTopLevelField(t *testing.T) {
	c := fixedClient(t, fixedAnswer{http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"Response":{"Error":{"Code":"AuthFailure","Message":"m"},"RequestId":"r"},"message":1}`)})
	err := c.Call(context.Background(), createBackup, struct{}{}, nil)
	if apierr.Code(err) != "AuthFailure" {
		t.Errorf("err = %v (kind %v); the SDK-based client reported AuthFailure (request id r), permanent", err, apierr.KindOf(err))
	}
}

// A resp that cannot be filled (a value, a nil pointer) is an error, as
// with the SDK's client: decoded into a map instead, the answer was
// dropped in silence.
func TestRespThatCannotBeFilledIsAnError(t *testing.T) {
	c := fixedClient(t, fixedAnswer{http.Header{"Content-Type": {"application/json"}}, []byte(`{"Response":{"BackupId":7,"RequestId":"r"}}`)})
	type R struct{ BackupId uint64 }
	var nilp *R
	for name, resp := range map[string]any{"value": R{}, "nil pointer": nilp} {
		err := c.Call(context.Background(), createBackup, struct{}{}, resp)
		var ae *apierr.Error
		if !errors.As(err, &ae) || !strings.Contains(ae.Code, "ParseJsonError") {
			t.Errorf("%s: err = %v; want an error (the answer was dropped)", name, err)
		}
	}
}
