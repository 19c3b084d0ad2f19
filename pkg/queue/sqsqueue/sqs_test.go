package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/sqsemu"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/sigv4"
)

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name     string
		fault    fault.Kind
		wantKind apierr.Kind
	}{
		{"internal error", fault.InternalError, apierr.RetryAfterLookup},
		{"throttled", fault.Throttle, apierr.RetryLater},
		{"gateway 503", fault.ServerError, apierr.RetryLater}, // refused before the API: retry later (issue 13 item 7)
		{"dropped connection", fault.Drop, apierr.RetryAfterLookup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults := fault.New(0, 1)
			s := newStack(t, sqsemu.Options{Faults: faults})
			q := s.open(t, "errs")
			faults.Force(tt.fault)
			_, err := q.Send(context.Background(), []byte("x"), 0)
			if err == nil {
				t.Fatal("Send under a fault = nil error")
			}
			if got := apierr.KindOf(err); got != tt.wantKind {
				t.Errorf("KindOf(%v) = %v; want %v", err, got, tt.wantKind)
			}
		})
	}
}

func TestMissingQueueIsPermanent(t *testing.T) {
	s := newStack(t, sqsemu.Options{})
	_, err := Open(context.Background(), "nope", &Options{Region: "us-east-1", Endpoint: s.srv.URL, Credentials: staticCreds})
	var ae *apierr.Error
	// GetQueueUrl's deserializer falls back to the query-compatible code.
	if !errors.As(err, &ae) || (ae.Code != "QueueDoesNotExist" && ae.Code != "AWS.SimpleQueueService.NonExistentQueue") ||
		ae.Kind != apierr.Permanent || ae.HTTPStatus != 400 {
		t.Fatalf("Open(missing) = %v; want a permanent QueueDoesNotExist", err)
	}
}

func TestWrongAccessKey(t *testing.T) {
	s := newStack(t, sqsemu.Options{})
	s.emu.CreateQueue("q")
	other := sigv4.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: "x"}
	_, err := Open(context.Background(), "q", &Options{Region: "us-east-1", Endpoint: s.srv.URL, Credentials: other})
	if apierr.Code(err) != "InvalidClientTokenId" {
		t.Fatalf("Open with another key = %v; want InvalidClientTokenId", err)
	}
}

func TestChangeVisibilityAndAttributes(t *testing.T) {
	s := newStack(t, sqsemu.Options{})
	s.emu.CreateQueue("cv")
	sdkCreds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, nil
	})
	c := sqs.New(sqs.Options{Region: "us-east-1", Credentials: sdkCreds, BaseEndpoint: aws.String(s.srv.URL), Retryer: aws.NopRetryer{}})
	ctx := context.Background()
	u, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("cv")})
	if err != nil {
		t.Fatal(err)
	}
	if want := s.srv.URL + "/000000000000/cv"; aws.ToString(u.QueueUrl) != want {
		t.Errorf("QueueUrl = %s; want %s", aws.ToString(u.QueueUrl), want)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: u.QueueUrl, MessageBody: aws.String("m"), DelaySeconds: 901}); err == nil {
		t.Error("SendMessage with DelaySeconds 901 succeeded")
	}
	c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: u.QueueUrl, MessageBody: aws.String("m")})
	//lint:ignore SA1019 the emulator must answer the attribute names older SDKs still send
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: u.QueueUrl, VisibilityTimeout: 5, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage = %v, %v", out, err)
	}
	m := out.Messages[0]
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" {
		t.Errorf("Attributes = %v; want ApproximateReceiveCount 1 and SentTimestamp", m.Attributes)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: u.QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility(0) = %v", err)
	}
	again, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: u.QueueUrl})
	if len(again.Messages) != 1 {
		t.Fatalf("after ChangeMessageVisibility(0) got %d messages; want the message back", len(again.Messages))
	}
	s.clock.Advance(time.Minute)
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: u.QueueUrl, ReceiptHandle: again.Messages[0].ReceiptHandle, VisibilityTimeout: 10}); err == nil {
		t.Error("ChangeMessageVisibility on a message no longer in flight succeeded")
	}
}

func TestOpenURL(t *testing.T) {
	s := newStack(t, sqsemu.Options{})
	s.emu.CreateQueue("jobs")
	env := map[string]string{"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret, "AWS_REGION": "us-east-1"}
	o := openurl.Env{Getenv: func(k string) string { return env[k] }} // as on Lambda
	for _, raw := range []string{"sqs://jobs?endpoint=" + s.srv.URL, "sqs://ignored/000000000000/jobs?endpoint=" + s.srv.URL} {
		q, err := queue.Open(context.Background(), raw, o)
		if err != nil {
			t.Fatalf("Open(%s) = %v", raw, err)
		}
		if q.Name() != "jobs" || q.MaxDelay() != 15*time.Minute || q.MaxBatch() != 10 {
			t.Errorf("Name, MaxDelay, MaxBatch = %s, %v, %d", q.Name(), q.MaxDelay(), q.MaxBatch())
		}
		if _, err := q.Send(context.Background(), []byte("x"), 0); err != nil {
			t.Errorf("Send via %s = %v", raw, err)
		}
	}
	if _, err := queue.Open(context.Background(), "sqs://jobs?endpoint="+s.srv.URL, openurl.Env{}); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("Open without credentials = %v; want ErrInvalidInput", err)
	}
}

// TestWrongSecretIsRefused: the emulator recomputes each signature with the
// SDK's signer, so the conformance suite passing means ours match.
func TestWrongSecretIsRefused(t *testing.T) {
	s := newStack(t, sqsemu.Options{})
	s.emu.CreateQueue("q")
	wrong := sigv4.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "not-the-secret"}
	_, err := Open(context.Background(), "q", &Options{Region: "us-east-1", Endpoint: s.srv.URL, Credentials: wrong})
	if apierr.Code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("Open with a wrong secret = %v; want SignatureDoesNotMatch", err)
	}
}

// TestDigestMismatch: an answer whose MD5 does not match the body fails
// the call, as the SDK's check did; a send's is ambiguous, not permanent.
func TestDigestMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSQS.SendMessage":
			fmt.Fprint(w, `{"MessageId":"m1","MD5OfMessageBody":"00000000000000000000000000000000"}`)
		case "AmazonSQS.ReceiveMessage":
			fmt.Fprint(w, `{"Messages":[{"MessageId":"m1","ReceiptHandle":"r","Body":"x","MD5OfBody":"0"}]}`)
		}
	}))
	defer srv.Close()
	q, err := Open(context.Background(), srv.URL+"/1/q", &Options{Region: "us-east-1", Endpoint: srv.URL, Credentials: staticCreds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(context.Background(), []byte("x"), 0); err == nil || apierr.KindOf(err) == apierr.Permanent {
		t.Errorf("Send with a wrong digest = %v (kind %v); want an ambiguous error", err, apierr.KindOf(err))
	}
	if ms, err := q.Receive(context.Background(), 1, 0); err == nil {
		t.Errorf("Receive with a wrong digest = %v; want an error", ms)
	}
}

// TestGatewayAnswers: a refusal without SQS's JSON error is classified by
// its status alone.
func TestGatewayAnswers(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   apierr.Kind
	}{{502, apierr.RetryAfterLookup}, {503, apierr.RetryLater}, {429, apierr.RetryLater}, {403, apierr.Permanent}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>busy</html>", tt.status)
		}))
		q, err := Open(context.Background(), srv.URL+"/1/q", &Options{Region: "us-east-1", Endpoint: srv.URL, Credentials: staticCreds})
		if err != nil {
			t.Fatal(err)
		}
		_, err = q.Send(context.Background(), []byte("x"), 0)
		if apierr.KindOf(err) != tt.want || apierr.Code(err) != fmt.Sprintf("HTTP%d", tt.status) {
			t.Errorf("HTTP %d: Send = %v (kind %v); want kind %v", tt.status, err, apierr.KindOf(err), tt.want)
		}
		srv.Close()
	}
}
