package sqsemu

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServeHTTP: any target and body gets a JSON answer, never a panic.
func FuzzServeHTTP(f *testing.F) {
	const qu = `"QueueUrl":"http://example.com/000000000000/q"`
	f.Add("SendMessage", `{`+qu+`,"MessageBody":"x","DelaySeconds":5}`)
	f.Add("ReceiveMessage", `{`+qu+`,"MaxNumberOfMessages":10,"WaitTimeSeconds":20,"AttributeNames":["All"]}`)
	f.Add("DeleteMessage", `{`+qu+`,"ReceiptHandle":"AQEB00"}`)
	f.Add("ChangeMessageVisibility", `{`+qu+`,"ReceiptHandle":"x","VisibilityTimeout":-1}`)
	f.Add("GetQueueUrl", `{"QueueName":"q"}`)
	f.Add("CreateQueue", `{"QueueName":"`+strings.Repeat("a", 81)+`"}`)
	f.Add("", `[1,2]`)
	s := New(Options{AutoCreate: true})
	f.Fuzz(func(t *testing.T, op, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", "AmazonSQS."+op)
		sign(t, r, body) // signed, so the operations themselves are fuzzed
		ctx, cancel := context.WithCancel(r.Context())
		cancel() // ends any long poll at once
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r.WithContext(ctx))
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer %q is not JSON", w.Body)
		}
	})
}

// FuzzAuthorization: any Authorization header is refused or accepted
// without a panic; only the emulator's own key passes the scope check.
func FuzzAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAGOOD/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=/x/y/z/aws4_request, SignedHeaders=, Signature=")
	f.Add("AWS4-HMAC-SHA256 Credential")
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("")
	s := New(Options{AccessKeyID: "AKIAGOOD", SecretAccessKey: "secret", AutoCreate: true})
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"QueueName":"q"}`))
		r.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueUrl")
		r.Header.Set("X-Amz-Date", "20260101T000000Z")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 403 {
			t.Fatalf("Authorization %q accepted (status %d)", auth, w.Code)
		}
	})
}
