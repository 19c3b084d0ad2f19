package function

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// sqsBatch is the event Lambda's SQS event source pushes, built with
// aws-lambda-go's own types: one record per create step, the products in
// turn.
func sqsBatch(t *testing.T, products ...provider.Product) []byte {
	t.Helper()
	var ev events.SQSEvent
	for i, p := range products {
		id := fmt.Sprintf("%s%08d", map[provider.Product]string{provider.MySQL: "cdb-", provider.SQLServer: "mssql-", provider.MongoDB: "cmgo-"}[p], i)
		m := job.Message{JobID: "j" + id, Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: p, InstanceID: id, Name: job.Name("j" + id)}}
		body, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m" + strconv.Itoa(i), ReceiptHandle: "r" + strconv.Itoa(i), Body: string(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:backupflow-work", AWSRegion: "us-east-1"})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mysqlCreates is n MySQL creates: 5/s, the slowest limit.
func mysqlCreates(n int) []provider.Product {
	return slices.Repeat([]provider.Product{provider.MySQL}, n)
}

// TestSQSBatchIsPacedAtItsShare: a pushed batch's creates keep to their
// product's limit, divided by Options.Consumers. The batch was unpaced:
// its creates went out as fast as the calls returned.
func TestSQSBatchIsPacedAtItsShare(t *testing.T) {
	for _, consumers := range []int{1, 2} {
		t.Run(fmt.Sprint("consumers=", consumers), func(t *testing.T) {
			clk := clocktest.New(time.Unix(1_700_000_000, 0))
			cloud := &startClock{now: clk.Now, at: map[provider.Product][]time.Time{}}
			svc, work, _, _ := newServiceWith(t, cloud)
			o := quiet()
			o.Now, o.Pace, o.Sleep, o.Workers, o.Consumers = clk.Now, true, clk.Sleep, virtualWorkers, consumers
			out, err := CreateBackup(svc, work, o)(context.Background(),
				sqsBatch(t, provider.MySQL, provider.MongoDB, provider.MySQL, provider.MongoDB, provider.MySQL))
			if err != nil {
				t.Fatal(err)
			}
			var br event.BatchResponse
			if err := json.Unmarshal(out, &br); err != nil || len(br.BatchItemFailures) != 0 {
				t.Fatalf("reply %s, %v; want no failed record", out, err)
			}
			gap := time.Duration(float64(time.Second) / provider.LimitsOf(provider.MySQL, provider.Backup).CreatePerSecond * float64(consumers))
			at := cloud.at[provider.MySQL]
			if len(at) != 3 || len(cloud.at[provider.MongoDB]) != 2 {
				t.Fatalf("creates reached the cloud: %v; want 3 MySQL and 2 MongoDB", cloud.at)
			}
			for i := 1; i < len(at); i++ {
				if d := at[i].Sub(at[i-1]); d != gap {
					t.Errorf("MySQL create %d came %s after the one before; want %s (5/s shared by %d)", i, d, gap, consumers)
				}
			}
		})
	}
}

// TestSQSBatchOverlapsSlowCalls: a pushed batch is handled by the drain's
// workers, so its creates' calls overlap instead of queueing one behind
// another (the batch was serial: at 100 ms a call, ten a second per
// consumer whatever the limits allowed).
func TestSQSBatchOverlapsSlowCalls(t *testing.T) {
	cloud := &slowCloud{delay: 50 * time.Millisecond}
	svc, work, _, _ := newServiceWith(t, cloud)
	o := quiet()
	o.Pace = true
	batch := sqsBatch(t, provider.MongoDB, provider.MongoDB, provider.MongoDB, provider.MongoDB, provider.MongoDB, provider.MongoDB)
	out, err := CreateBackup(svc, work, o)(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil || len(br.BatchItemFailures) != 0 || cloud.starts != 6 {
		t.Fatalf("reply %s, %d creates; want six creates and no failed record", out, cloud.starts)
	}
	if cloud.most < 2 {
		t.Errorf("at most %d create in flight; want the batch's calls to overlap", cloud.most)
	}
}

// TestSQSBatchReportsWhatFailed: of a pushed batch, exactly the records
// not handled are named for redelivery, the unreadable one among them.
func TestSQSBatchReportsWhatFailed(t *testing.T) {
	cloud := &failFor{product: provider.SQLServer}
	svc, work, _, _ := newServiceWith(t, cloud)
	batch := sqsBatch(t, provider.MongoDB, provider.SQLServer, provider.MongoDB)
	out, err := CreateBackup(svc, work, quiet())(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil {
		t.Fatal(err)
	}
	if len(br.BatchItemFailures) != 1 || br.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Errorf("failures %+v; want exactly m1", br.BatchItemFailures)
	}
}

// failFor panics starting a create of its product, as a broken answer
// once did; HandleSafely turns that into this message's failure.
type failFor struct {
	stubProvider
	product provider.Product
}

func (p *failFor) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	if spec.Product == p.product {
		panic("broken answer")
	}
	return p.stubProvider.Start(ctx, spec)
}

// TestSQSBatchInsideTheHeadroom: a pushed batch is handled even when less
// than the drain's headroom is left: the headroom keeps a drain from
// taking more, and a pushed batch takes nothing more (interop's Lambda
// cases run poll-status with a timeout below its 15 s headroom; the
// batch failed every record).
func TestSQSBatchInsideTheHeadroom(t *testing.T) {
	cloud := &stubProvider{}
	svc, work, _, _ := newServiceWith(t, cloud)
	o := quiet()
	o.Pace, o.Headroom = true, 15*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := CreateBackup(svc, work, o)(ctx, sqsBatch(t, provider.MongoDB, provider.MySQL))
	if err != nil {
		t.Fatal(err)
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil || len(br.BatchItemFailures) != 0 || cloud.starts != 2 {
		t.Errorf("reply %s, %d creates; want both records handled", out, cloud.starts)
	}
}

// TestSQSBatchRepliesBeforeItsDeadline: a batch whose paced slots run past
// the invocation's deadline handles what fits and names the rest before
// the deadline. It slept to its slots past the deadline: the platform had
// timed the invocation out, the reply was lost, and SQS redelivered the
// whole batch, handled records too.
func TestSQSBatchRepliesBeforeItsDeadline(t *testing.T) {
	cloud := &stubProvider{}
	svc, work, _, _ := newServiceWith(t, cloud)
	o := quiet()
	o.Pace = true
	ps := mysqlCreates(10) // 1.8 s of slots
	deadline := time.Now().Add(time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	out, err := CreateBackup(svc, work, o)(ctx, sqsBatch(t, ps...))
	if err != nil {
		t.Fatal(err)
	}
	if !time.Now().Before(deadline) {
		t.Fatalf("replied %s after the deadline", time.Since(deadline))
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil {
		t.Fatal(err)
	}
	if failed := len(br.BatchItemFailures); cloud.starts+failed != 10 || cloud.starts == 0 || failed == 0 {
		t.Errorf("%d creates started, %d records named failed; want some of each, 10 in all", cloud.starts, failed)
	}
}

// TestDrainRunsOneCopyAtATime: two copies of a message in one batch, one
// received too often, never end with the job dead-lettered while its
// backup starts. Run at once on two workers, the give-up found nothing
// handled yet and dead-lettered the job the other copy was starting.
func TestDrainRunsOneCopyAtATime(t *testing.T) {
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cloud := &slowCloud{delay: 20 * time.Millisecond}
			svc, work, _, dead := newServiceWith(t, cloud)
			var ev map[string][]map[string]any
			if err := json.Unmarshal(sqsBatch(t, provider.MongoDB, provider.MongoDB), &ev); err != nil {
				t.Fatal(err)
			}
			c := maps.Clone(ev["Records"][0])
			c["attributes"] = map[string]string{"ApproximateReceiveCount": "11"}
			ev["Records"][1] = c
			b, _ := json.Marshal(ev)
			o := quiet()
			o.Pace = true
			if _, err := CreateBackup(svc, work, o)(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			ds, _ := dead.Receive(context.Background(), 10, 0)
			if cloud.starts > 0 && len(ds) > 0 {
				t.Errorf("the job's backup was started (%d) and the job dead-lettered", cloud.starts)
			}
		})
	}
}

// TestSQSBatchRedeliveriesMakeProgress: under a short timeout, each
// redelivery of what the last reply named starts more, until all is done.
func TestSQSBatchRedeliveriesMakeProgress(t *testing.T) {
	cloud := &stubProvider{}
	svc, work, _, _ := newServiceWith(t, cloud)
	o := quiet()
	o.Pace = true
	ps := mysqlCreates(10)
	var ev struct{ Records []map[string]any }
	if err := json.Unmarshal(sqsBatch(t, ps...), &ev); err != nil {
		t.Fatal(err)
	}
	for round := 1; len(ev.Records) > 0; round++ {
		if round > 6 {
			t.Fatalf("%d records still failed after 6 invocations of 1 s", len(ev.Records))
		}
		b, _ := json.Marshal(ev)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		before := cloud.starts
		out, err := CreateBackup(svc, work, o)(ctx, b)
		cancel()
		var br event.BatchResponse
		if err != nil || json.Unmarshal(out, &br) != nil {
			t.Fatalf("round %d: %s, %v", round, out, err)
		}
		if cloud.starts == before {
			t.Fatalf("round %d started nothing new", round)
		}
		failed := map[string]bool{}
		for _, f := range br.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		var next []map[string]any
		for _, r := range ev.Records {
			if failed[r["messageId"].(string)] {
				r["attributes"] = map[string]string{"ApproximateReceiveCount": strconv.Itoa(round + 1)}
				next = append(next, r)
			}
		}
		ev.Records = next
	}
	if cloud.starts != 10 {
		t.Errorf("%d creates started; want each of the 10 once", cloud.starts)
	}
}

// TestSQSBatchLogsRecordsItCannotName: a record of a batch with no
// message id to name (not an SQS record at all) is logged as skipped;
// the records beside it are handled.
func TestSQSBatchLogsRecordsItCannotName(t *testing.T) {
	svc, work, _, _ := newService(t)
	var ev map[string][]json.RawMessage
	if err := json.Unmarshal(sqsBatch(t, provider.MongoDB), &ev); err != nil {
		t.Fatal(err)
	}
	ev["Records"] = append(ev["Records"], json.RawMessage(`42`))
	b, _ := json.Marshal(ev)
	var logs strings.Builder
	o := quiet()
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	out, err := CreateBackup(svc, work, o)(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	var br event.BatchResponse
	if err := json.Unmarshal(out, &br); err != nil || len(br.BatchItemFailures) != 0 {
		t.Errorf("reply %s, %v; want the readable record handled", out, err)
	}
	if !strings.Contains(logs.String(), "record is not a JSON object") {
		t.Errorf("logs %q; want the unreadable record named", logs.String())
	}
}
