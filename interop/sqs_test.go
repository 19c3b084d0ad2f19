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
