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
		ctx, cancel := context.WithCancel(r.Context())
		cancel() // ends any long poll at once
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r.WithContext(ctx))
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer %q is not JSON", w.Body)
		}
	})
}
