package sqsemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/backupflow/backupflow/internal/clocktest"
)

func call(t *testing.T, s *Server, op, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://sqs.local/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", "AmazonSQS."+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	sign(t, r, body)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s answer %q is not JSON: %v", op, w.Body, err)
	}
	return w.Code, out
}

// sign signs r as the SDK would, with any key (these servers check none).
func sign(t *testing.T, r *http.Request, body string) {
	t.Helper()
	h := sha256.Sum256([]byte(body))
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIATEST", SecretAccessKey: "s"},
		r, hex.EncodeToString(h[:]), "sqs", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

func TestErrorsFollowJSONProtocol(t *testing.T) {
	s := New(Options{})
	s.CreateQueue("q")
	const qu = `"QueueUrl":"http://sqs.local/000000000000/q"`
	tests := []struct {
		name, op, body string
		status         int
		typ            string
	}{
		{"missing queue", "SendMessage", `{"QueueUrl":"http://sqs.local/000000000000/nope","MessageBody":"x"}`, 400, "com.amazonaws.sqs#QueueDoesNotExist"},
		{"other account", "SendMessage", `{"QueueUrl":"http://sqs.local/111/q","MessageBody":"x"}`, 400, "com.amazonaws.sqs#QueueDoesNotExist"},
		{"delay 901", "SendMessage", `{` + qu + `,"MessageBody":"x","DelaySeconds":901}`, 400, "com.amazonaws.sqs#InvalidParameterValue"},
		{"empty body", "SendMessage", `{` + qu + `,"MessageBody":""}`, 400, "com.amazonaws.sqs#MissingParameter"},
		{"bad characters", "SendMessage", `{` + qu + `,"MessageBody":"\u0001"}`, 400, "com.amazonaws.sqs#InvalidMessageContents"},
		{"eleven messages", "ReceiveMessage", `{` + qu + `,"MaxNumberOfMessages":11}`, 400, "com.amazonaws.sqs#InvalidParameterValue"},
		{"wait 21", "ReceiveMessage", `{` + qu + `,"WaitTimeSeconds":21}`, 400, "com.amazonaws.sqs#InvalidParameterValue"},
		{"bad receipt", "DeleteMessage", `{` + qu + `,"ReceiptHandle":"x"}`, 400, "com.amazonaws.sqs#ReceiptHandleIsInvalid"},
		{"unknown op", "PurgeQueue", `{}`, 400, "com.amazonaws.sqs#UnsupportedOperation"},
		{"bad json", "SendMessage", `{`, 400, "com.amazonaws.sqs#SerializationException"},
		{"unknown queue name", "GetQueueUrl", `{"QueueName":"nope"}`, 400, "com.amazonaws.sqs#QueueDoesNotExist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(t, s, tt.op, tt.body)
			if status != tt.status || out["__type"] != tt.typ {
				t.Fatalf("%s = %d %v; want %d %s", tt.op, status, out, tt.status, tt.typ)
			}
		})
	}
}

func TestSendReceiveDelete(t *testing.T) {
	clk := clocktest.New(time.Unix(1_767_225_600, 0))
	s := New(Options{Now: clk.Now, AutoCreate: true})
	_, u := call(t, s, "GetQueueUrl", `{"QueueName":"auto"}`)
	qu := u["QueueUrl"].(string)
	if qu != "http://sqs.local/000000000000/auto" {
		t.Fatalf("QueueUrl = %s", qu)
	}
	_, sent := call(t, s, "SendMessage", `{"QueueUrl":"`+qu+`","MessageBody":"hello","DelaySeconds":10}`)
	if sent["MD5OfMessageBody"] != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("MD5OfMessageBody = %v; want md5(hello)", sent["MD5OfMessageBody"])
	}
	if v, i, d := s.Stats("auto"); v != 0 || i != 0 || d != 1 {
		t.Errorf("Stats = %d, %d, %d; want 1 delayed", v, i, d)
	}
	clk.Advance(10 * time.Second)
	_, got := call(t, s, "ReceiveMessage", `{"QueueUrl":"`+qu+`","MessageSystemAttributeNames":["ApproximateReceiveCount"]}`)
	msgs := got["Messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("Messages = %v; want one", msgs)
	}
	m := msgs[0].(map[string]any)
	if m["Body"] != "hello" || m["Attributes"].(map[string]any)["ApproximateReceiveCount"] != "1" {
		t.Errorf("message = %v", m)
	}
	if status, _ := call(t, s, "DeleteMessage", `{"QueueUrl":"`+qu+`","ReceiptHandle":"`+m["ReceiptHandle"].(string)+`"}`); status != 200 {
		t.Errorf("DeleteMessage status %d", status)
	}
}

func TestAccessKeyChecked(t *testing.T) {
	s := New(Options{AccessKeyID: "AKIAGOOD"})
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"QueueName":"q"}`))
	r.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueUrl")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIABAD/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("wrong access key: status %d; want 403", w.Code)
	}
}
