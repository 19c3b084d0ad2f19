package interop_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/queuetest"
	_ "github.com/backupflow/backupflow/pkg/queue/sqsqueue" // the sqs:// driver
)

// TestSQSConformanceOverHTTP runs the queue conformance suite against the
// emulator binary's SQS API over real HTTP with SigV4: queues are created
// with the AWS SDK's own client and opened by URL, as a function opens them.
func TestSQSConformanceOverHTTP(t *testing.T) {
	t.Parallel() // it sleeps through real visibility timeouts; the rest runs meanwhile
	e := startEmulator(t)
	c := sqsClient(e)
	var n atomic.Int64
	h := &queuetest.URLHarness{
		NewQueue: func(ctx context.Context, t *testing.T) string {
			name := fmt.Sprintf("conformance-%d", n.Add(1))
			if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
				t.Fatalf("CreateQueue: %v", err)
			}
			return "sqs://" + name + "?region=us-east-1&endpoint=" + e.URL
		},
		Env: openurl.Env{Getenv: func(k string) string { return e.env[k] }}, // as on Lambda
		// The emulator's default visibility timeout (sqsemu: 30 s).
		Visibility: 30 * time.Second,
	}
	check(t, "aws-sdk-go-v2 sqs", "queue conformance suite (pkg/queue/queuetest) over HTTP + SigV4", func(c *R) {
		ok := t.Run("conformance", func(t *testing.T) { queuetest.RunConformanceTests(t, h) })
		if !ok {
			c.Errorf("the conformance suite failed against the emulator over HTTP (see the subtests above)")
		}
	})
}

// TestSQSDriverAndSDKShareMessages: what the deployed sqs:// driver sends
// the SDK's client receives intact, its MD5 check passing, and the other
// way round, for a body JSON must escape.
func TestSQSDriverAndSDKShareMessages(t *testing.T) {
	e := startEmulator(t)
	c := sqsClient(e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("shared")}); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	q, err := queue.Open(ctx, "sqs://shared?region=us-east-1&endpoint="+e.URL, openurl.Env{Getenv: func(k string) string { return e.env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	u, err := queueURL(ctx, c, "shared")
	if err != nil {
		t.Fatal(err)
	}
	const body = `{"job":"héllo ✓","note":"<&>\"\\\u2028"}`
	check(t, "aws-sdk-go-v2 sqs", "a message the driver sends, the SDK receives intact (its MD5 check on)", func(r *R) {
		if _, err := q.Send(ctx, []byte(body), 0); err != nil {
			r.Errorf("driver Send: %v", err)
			return
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != body {
			r.Errorf("SDK ReceiveMessage = %+v, %v; want the one body", out, err)
			return
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			r.Errorf("SDK DeleteMessage: %v", err)
		}
	})
	check(t, "aws-sdk-go-v2 sqs", "a message the SDK sends, the driver receives intact and deletes", func(r *R) {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String(body)}); err != nil {
			r.Errorf("SDK SendMessage: %v", err)
			return
		}
		ms, err := q.Receive(ctx, 10, time.Second)
		if err != nil || len(ms) != 1 || string(ms[0].Body) != body || ms[0].Receives != 1 {
			r.Errorf("driver Receive = %+v, %v; want the one body, first receive", ms, err)
			return
		}
		if err := q.Delete(ctx, ms[0].Receipt); err != nil {
			r.Errorf("driver Delete: %v", err)
		}
	})
}
