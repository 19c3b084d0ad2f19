package sqsqueue

import (
	"context"
	"errors"
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
	other := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: "x"}, nil
	})
	_, err := Open(context.Background(), "q", &Options{Region: "us-east-1", Endpoint: s.srv.URL, Credentials: other})
	if apierr.Code(err) != "InvalidClientTokenId" {
		t.Fatalf("Open with another key = %v; want InvalidClientTokenId", err)
	}
}

func TestChangeVisibilityAndAttributes(t *testing.T) {
	s := newStack(t, sqsemu.Options{})
	s.emu.CreateQueue("cv")
	c := sqs.New(sqs.Options{Region: "us-east-1", Credentials: staticCreds, BaseEndpoint: aws.String(s.srv.URL), Retryer: aws.NopRetryer{}})
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
