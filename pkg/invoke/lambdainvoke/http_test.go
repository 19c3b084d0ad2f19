package lambdainvoke_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke"
)

// echoHandler reports what it saw of the request.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("Set-Cookie", "s=1; HttpOnly")
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "rawPath": r.URL.RawPath, "query": r.URL.RawQuery,
		"uri": r.RequestURI, "host": r.Host, "remote": r.RemoteAddr, "len": r.ContentLength,
		"sig": r.Header.Get("X-Slack-Signature"), "ctype": r.Header.Get("Content-Type"),
		"cookie": r.Header.Get("Cookie"), "multi": r.Header.Values("X-Forwarded-For"), "body": string(body),
	})
})

type response struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

const slackBody = "token=x&command=%2Fbackupflow&text=backup+cdb-c1nl9rpv"

func TestHTTP(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(slackBody))
	tests := []struct {
		name       string
		event      string
		wantStatus int
		wantEcho   map[string]any // subset of the echo body
		check      func(t *testing.T, r response)
	}{
		{
			name: "function url with base64 form body",
			event: `{"version":"2.0","rawPath":"/slack","rawQueryString":"a=1&a=2&b=x%20y","cookies":["c1=v1","c2=v2"],
				"headers":{"content-type":"application/x-www-form-urlencoded","x-slack-signature":"v0=abc","host":"abc.lambda-url.us-east-1.on.aws"},
				"requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws","http":{"method":"POST","path":"/slack","sourceIp":"203.0.113.9"}},
				"body":"` + b64 + `","isBase64Encoded":true}`,
			wantStatus: 200,
			wantEcho: map[string]any{"method": "POST", "path": "/slack", "query": "a=1&a=2&b=x%20y", "uri": "/slack?a=1&a=2&b=x%20y",
				"host": "abc.lambda-url.us-east-1.on.aws", "remote": "203.0.113.9", "len": float64(len(slackBody)),
				"sig": "v0=abc", "ctype": "application/x-www-form-urlencoded", "cookie": "c1=v1; c2=v2", "body": slackBody},
			check: func(t *testing.T, r response) {
				if !reflect.DeepEqual(r.Cookies, []string{"s=1; HttpOnly"}) || r.Headers["X-Multi"] != "a,b" || r.Headers["Set-Cookie"] != "" {
					t.Errorf("v2 response cookies %q headers %v; want the cookie apart and joined X-Multi", r.Cookies, r.Headers)
				}
				if r.MultiValueHeaders != nil {
					t.Errorf("v2 response has multiValueHeaders %v", r.MultiValueHeaders)
				}
			},
		},
		{
			name:       "http api escaped path, plain body, host from domain",
			event:      `{"version":"2.0","rawPath":"/a%2Fb/c d","requestContext":{"domainName":"api.example","http":{"method":"GET"}},"body":"plain"}`,
			wantStatus: 200,
			wantEcho:   map[string]any{"method": "GET", "path": "/a/b/c d", "rawPath": "/a%2Fb/c d", "host": "api.example", "body": "plain"},
		},
		{
			name: "rest api v1 multi-value",
			event: `{"resource":"/{proxy+}","path":"/hook","httpMethod":"PUT",
				"headers":{"X-Forwarded-For":"last"},"multiValueHeaders":{"x-forwarded-for":["1.1.1.1","2.2.2.2"],"Host":["h.example"]},
				"queryStringParameters":{"q":"last"},"multiValueQueryStringParameters":{"q":["a b","c"]},
				"requestContext":{"identity":{"sourceIp":"198.51.100.7"}},"body":"{\"x\":1}","isBase64Encoded":false}`,
			wantStatus: 200,
			wantEcho: map[string]any{"method": "PUT", "path": "/hook", "query": "q=a+b&q=c", "host": "h.example",
				"remote": "198.51.100.7", "multi": []any{"1.1.1.1", "2.2.2.2"}, "body": `{"x":1}`},
			check: func(t *testing.T, r response) {
				if !reflect.DeepEqual(r.MultiValueHeaders["X-Multi"], []string{"a", "b"}) || r.Cookies != nil {
					t.Errorf("v1 response multiValueHeaders %v cookies %v; want X-Multi [a b] and no cookies field", r.MultiValueHeaders, r.Cookies)
				}
			},
		},
		{
			name:       "rest api single-value query and headers",
			event:      `{"httpMethod":"GET","path":"","headers":{"x-slack-signature":"s"},"queryStringParameters":{"z":"1","a":"2"}}`,
			wantStatus: 200,
			wantEcho:   map[string]any{"path": "/", "query": "a=2&z=1", "sig": "s"},
		},
		{
			name:       "body over the limit",
			event:      `{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"` + strings.Repeat("A", lambdainvoke.MaxBodyBytes*4/3+8) + `","isBase64Encoded":true}`,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name:       "plain body over the limit",
			event:      `{"httpMethod":"POST","body":"` + strings.Repeat("a", lambdainvoke.MaxBodyBytes+1) + `"}`,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name:       "bad base64",
			event:      `{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"***","isBase64Encoded":true}`,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "bad method",
			event:      `{"httpMethod":"GE T","path":"/"}`,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "v2 without method",
			event:      `{"version":"2.0","rawPath":"/"}`,
			wantStatus: http.StatusBadRequest,
		},
	}
	h := lambdainvoke.HTTP(echoHandler)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := h(context.Background(), []byte(tt.event))
			if err != nil {
				t.Fatalf("HTTP() error = %v", err)
			}
			var r response
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			if r.StatusCode != tt.wantStatus {
				t.Fatalf("statusCode = %d; want %d (body %q)", r.StatusCode, tt.wantStatus, r.Body)
			}
			if tt.wantEcho != nil {
				if r.IsBase64Encoded {
					t.Fatalf("JSON body was base64-encoded")
				}
				var echo map[string]any
				if err := json.Unmarshal([]byte(r.Body), &echo); err != nil {
					t.Fatalf("echo body %q: %v", r.Body, err)
				}
				for k, want := range tt.wantEcho {
					if got := echo[k]; !reflect.DeepEqual(got, want) {
						t.Errorf("handler saw %s = %#v; want %#v", k, got, want)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestHTTPBinaryResponse(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00")
	h := lambdainvoke.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(png) }))
	out, err := h(context.Background(), []byte(`{"version":"2.0","requestContext":{"http":{"method":"GET"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	got, _ := base64.StdEncoding.DecodeString(r.Body)
	if !r.IsBase64Encoded || string(got) != string(png) || r.Headers["Content-Type"] != "image/png" {
		t.Errorf("response = %+v; want the PNG base64-encoded with a sniffed content type", r)
	}
}

func TestHTTPRejectsNonHTTPPayloads(t *testing.T) {
	h := lambdainvoke.HTTP(echoHandler)
	for _, p := range []string{`{`, `[]`, `{"Records":[]}`, `{"version":"1.0"}`, `"x"`} {
		if out, err := h(context.Background(), []byte(p)); err == nil {
			t.Errorf("HTTP(%s) = %s, nil; want an error", p, out)
		}
	}
}

func TestHTTPPassesMeta(t *testing.T) {
	h := lambdainvoke.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := invoke.MetaFrom(r.Context())
		fmt.Fprint(w, m.RequestID)
	}))
	ctx := invoke.WithMeta(context.Background(), invoke.Meta{RequestID: "r-7"})
	out, err := h(ctx, []byte(`{"version":"2.0","requestContext":{"http":{"method":"GET"}}}`))
	if err != nil || !strings.Contains(string(out), `"body":"r-7"`) {
		t.Fatalf("HTTP() = %s, %v; want the request id from the context", out, err)
	}
}

func FuzzHTTP(f *testing.F) {
	for _, s := range []string{
		`{"version":"2.0","rawPath":"/slack","rawQueryString":"a=1","cookies":["c=1"],"headers":{"host":"h"},"requestContext":{"http":{"method":"POST","sourceIp":"1.2.3.4"}},"body":"dG9rZW49eA==","isBase64Encoded":true}`,
		`{"httpMethod":"GET","path":"/p","multiValueHeaders":{"a":["1","2"]},"multiValueQueryStringParameters":{"q":["x"]},"body":"b"}`,
		`{"version":"2.0","rawPath":"%zz","requestContext":{"http":{"method":"GET"}}}`,
		`{"httpMethod":"POST","body":"***","isBase64Encoded":true}`,
	} {
		f.Add([]byte(s))
	}
	h := lambdainvoke.HTTP(echoHandler)
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h(context.Background(), payload)
		if err != nil {
			return
		}
		var r response
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("HTTP(%q) returned invalid JSON %q: %v", payload, out, err)
		}
		if r.StatusCode < 100 || r.StatusCode > 599 {
			t.Fatalf("HTTP(%q) statusCode = %d", payload, r.StatusCode)
		}
		if r.IsBase64Encoded {
			if _, err := base64.StdEncoding.DecodeString(r.Body); err != nil {
				t.Fatalf("HTTP(%q) body is not base64: %v", payload, err)
			}
		}
	})
}
