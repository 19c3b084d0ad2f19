package cmqsign

import (
	"net/url"
	"testing"
)

const (
	secretID  = "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"
	secretKey = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
)

// Vectors from facts/platform.md §9.3: the official CMQ example and three
// computed ones (SHA-256 on both paths, SHA-1 with a token and a port).
func TestSign(t *testing.T) {
	tests := []struct {
		name       string
		host, path string
		params     url.Values
		want       string
	}{
		{
			name: "official HmacSHA1", host: "cmq-queue-gz.api.tencentyun.com", path: "/v2/index.php",
			params: url.Values{"Action": {"SendMessage"}, "Nonce": {"2889712707386595659"}, "RequestClient": {"SDK_Python_1.3"},
				"SecretId": {secretID}, "SignatureMethod": {"HmacSHA1"}, "Timestamp": {"1534154812"},
				"clientRequestId": {"1231231231"}, "delaySeconds": {"0"}, "msgBody": {"msg"}, "queueName": {"test1"}},
			want: "C16WEtEXsD5v5tnaUMLAbZewXhI=",
		},
		{
			name: "HmacSHA256 root path", host: "gz.mqadapter.cmq.tencentyun.com", path: "/",
			params: receiveParams(), want: "WUOo7j2sAkaC+JqVkpbWGFbTgCudcCxHgyvottny4Bo=",
		},
		{
			name: "HmacSHA256 v2 path", host: "gz.mqadapter.cmq.tencentyun.com", path: "/v2/index.php",
			params: receiveParams(), want: "GOQcTHBIPhanFmdPgEmHF/we4PpQMtSHTVIeoxc05SU=",
		},
		{
			name: "HmacSHA1 token and port", host: "127.0.0.1:8080", path: "/",
			params: url.Values{"Action": {"SendMessage"}, "Nonce": {"42"}, "SecretId": {secretID},
				"SignatureMethod": {"HmacSHA1"}, "Timestamp": {"1534154812"}, "Token": {"tok/en+1="},
				"delaySeconds": {"60"}, "msgBody": {`{"id":"a b","n":1}`}, "queueName": {"test1"}},
			want: "y77/s8W7N4YaH6cl8zv2ZEW/6Ac=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign("POST", tt.host, tt.path, tt.params, secretKey); got != tt.want {
				t.Fatalf("Sign = %s; want %s\nstring to sign: %s", got, tt.want, StringToSign("POST", tt.host, tt.path, tt.params, false))
			}
			signed := url.Values{}
			for k, v := range tt.params {
				signed[k] = v
			}
			signed.Set("Signature", tt.want)
			// The wire form decodes back to the same parameters.
			wire, err := url.ParseQuery(signed.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if !Verify("POST", tt.host, tt.path, wire, secretKey) {
				t.Error("Verify rejected the signed, encoded and decoded parameters")
			}
			if Verify("GET", tt.host, tt.path, wire, secretKey) || Verify("POST", tt.host+":1", tt.path, wire, secretKey) ||
				Verify("POST", tt.host, tt.path+"x", wire, secretKey) || Verify("POST", tt.host, tt.path, wire, "other") {
				t.Error("Verify accepted a changed method, host, path or key")
			}
		})
	}
}

func receiveParams() url.Values {
	return url.Values{"Action": {"ReceiveMessage"}, "Nonce": {"12345"}, "RequestClient": {"example"},
		"SecretId": {secretID}, "SignatureMethod": {"HmacSHA256"}, "Timestamp": {"1534154812"},
		"pollingWaitSeconds": {"3"}, "queueName": {"test1"}}
}

func TestVerifyAcceptsSkipAtVariant(t *testing.T) {
	p := url.Values{"Action": {"SendMessage"}, "msgBody": {"@file"}, "SignatureMethod": {"HmacSHA256"}}
	p.Set("Signature", mac(HmacSHA256, secretKey, StringToSign("POST", "h", "/", p, true)))
	if !Verify("POST", "h", "/", p, secretKey) {
		t.Error("Verify rejected a signature computed without @-values (PHP/Python SDK rule)")
	}
	p.Set("Signature", "")
	if Verify("POST", "h", "/", p, secretKey) {
		t.Error("Verify accepted an empty signature")
	}
}
