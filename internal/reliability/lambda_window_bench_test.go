package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/invoke/lambdainvoke/lambdainvoketest"
	"github.com/backupflow/backupflow/pkg/objstore/objstoretest"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
	_ "github.com/backupflow/backupflow/pkg/queue/sqsqueue" // sqs:// for the event source
)

// buildLambdaCreate builds the Lambda create-backup binary as make build does.
var buildLambdaCreate = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "backupflow-lambda-window")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", out, "../../functions/create-backup")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build create-backup (lambda): %v\n%s", err, b)
	}
	return out, nil
})

// BenchmarkNightlyWindowLambda is BenchmarkNightlyWindowRealTime for the
// Lambda build: the shipped bootstrap under a fake Runtime API, fed by an
// SQS event source played as template.yaml configures it (batches of 10,
// MaximumConcurrency 2: two consumers, each its own warm instance; only
// the records not named in batchItemFailures are deleted), over a mixed
// fleet and a MySQL-only one (every create on the slowest limit), on the
// emulator's SQS, its rate-limited database APIs with cloudLatency on
// every call, and an S3 ledger (the S3 fake, signatures checked).
//
//	go test -run '^$' -bench NightlyWindowLambda -benchtime 1x ./internal/reliability/
func BenchmarkNightlyWindowLambda(b *testing.B) {
	bin, err := buildLambdaCreate()
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	// consumers=1 is what template.yaml deploys (BACKUPFLOW_CONSUMERS
	// unset): each instance paces at the full limits, and when both hold the
	// same product's creates the API throttles some, which are retried.
	// consumers=2 gives each half of every limit: nothing is over, but a
	// batch without the slow product leaves its half unused.
	for _, mix := range []string{"mixed", "mysql"} {
		for _, share := range []int{1, 2} {
			b.Run(fmt.Sprintf("mix=%s/BACKUPFLOW_CONSUMERS=%d", mix, share), func(b *testing.B) {
				for range b.N {
					lambdaWindowNight(b, bin, 2, share, mix == "mysql")
				}
			})
		}
	}
}

// mysqlFleet is n tagged MySQL instances: every create on the slowest limit,
// the case where the consumers' shares of it matter most.
func mysqlFleet(n int) *fixture.Set {
	set := tencentFleet(4*n, 4*n)
	var ins []fixture.Instance
	for _, in := range set.Instances {
		if in.Product == provider.MySQL && len(ins) < n {
			ins = append(ins, in)
		}
	}
	set.Instances = ins
	return set
}

// awsFront routes S3 requests (by their SigV4 scope) to the S3 fake and
// the rest to the emulator, the database calls after cloudLatency.
type awsFront struct {
	s3  http.Handler
	db  *slowFront
	emu http.Handler
}

func (f *awsFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.Contains(r.Header.Get("Authorization"), "/s3/aws4_request"):
		f.s3.ServeHTTP(w, r)
	case r.Header.Get("X-Amz-Target") != "":
		f.emu.ServeHTTP(w, r) // SQS: in-region, no added latency
	default:
		f.db.ServeHTTP(w, r)
	}
}

// lambdaWindowNight runs one night with consumers event-source pollers,
// the functions' BACKUPFLOW_CONSUMERS set to share.
func lambdaWindowNight(b *testing.B, bin string, consumers, share int, onlyMySQL bool) {
	n, set := 300, tencentFleet(300, 300)
	if onlyMySQL {
		n, set = 100, mysqlFleet(100)
	}
	emu, err := emulator.New(emulator.Options{Fleet: set, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	s3 := objstoretest.NewS3()
	front := &awsFront{s3: s3, db: &slowFront{emu: emu}, emu: emu}
	srv := httptest.NewServer(front)
	defer srv.Close()
	env := emu.Env(srv.URL)
	s3.CheckSignatures(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
	maps.Copy(env, map[string]string{
		"AWS_REGION":              "us-east-1",
		"BACKUPFLOW_WORK_QUEUE":   "sqs://backupflow-work?region=us-east-1",
		"BACKUPFLOW_POLL_QUEUE":   "sqs://backupflow-poll?region=us-east-1",
		"BACKUPFLOW_DEAD_QUEUE":   "sqs://backupflow-dead?region=us-east-1",
		"BACKUPFLOW_LEDGER":       "s3://ledger-window/records",
		"BACKUPFLOW_OBJECT_STORE": "s3",
		"BACKUPFLOW_PRODUCTS":     "mysql,sqlserver,mongodb",
		"BACKUPFLOW_LOG_LEVEL":    "warn",
		"BACKUPFLOW_CONSUMERS":    strconv.Itoa(share),
	})
	logs := &syncBuf{}
	start := func() (*lambdainvoketest.Server, func()) {
		rt := lambdainvoketest.NewServer()
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+rt.Addr(), "AWS_LAMBDA_FUNCTION_NAME=create-backup",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		return rt, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); rt.Close() }
	}
	ctx := context.Background()
	var seq atomic.Int64
	invoke := func(rt *lambdainvoketest.Server, payload []byte) lambdainvoketest.Result {
		// template.yaml's create-backup timeout, 900 s.
		ictx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		defer cancel()
		id := "req-" + strconv.FormatInt(seq.Add(1), 10)
		res, err := rt.Invoke(ictx, lambdainvoketest.Invocation{RequestID: id, Payload: payload, Deadline: time.Now().Add(900 * time.Second)})
		if err != nil {
			b.Fatalf("invoke: %v\n%s", err, tail(logs))
		}
		return res
	}

	rt, stop := start()
	schedule := fmt.Sprintf(`{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000","time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:000000000000:rule/backupflow-nightly-backup"],"detail":{}}`,
		time.Now().UTC().Format(time.RFC3339))
	if res := invoke(rt, []byte(schedule)); res.Error != nil {
		b.Fatalf("nightly fan-out: %+v\n%s", res.Error, tail(logs))
	}
	stop()

	work, err := queue.Open(ctx, "sqs://backupflow-work?region=us-east-1", openurl.Env{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		b.Fatal(err)
	}
	made := func() int { return backupsMade(emu) }
	b.ResetTimer()
	var (
		wg                   sync.WaitGroup
		batches, failedItems atomic.Int64
		stopAt               = time.Now().Add(10 * time.Minute)
	)
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, stop := start()
			defer stop()
			for made() < n && time.Now().Before(stopAt) {
				// The event source's long poll, then one batch to the function.
				ms, err := work.Receive(ctx, 10, time.Second)
				if err != nil {
					b.Errorf("event source receive: %v", err)
					return
				}
				if len(ms) == 0 {
					continue
				}
				res := invoke(rt, sqsEvent(ms))
				batches.Add(1)
				failed := map[string]bool{}
				if res.Error != nil {
					for _, m := range ms {
						failed[m.ID] = true
					}
				} else {
					var br struct {
						BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
					}
					if err := json.Unmarshal(res.Payload, &br); err != nil {
						b.Errorf("batch reply %s: %v", res.Payload, err)
						return
					}
					for _, f := range br.BatchItemFailures {
						failed[f.ItemIdentifier] = true
					}
				}
				failedItems.Add(int64(len(failed)))
				for _, m := range ms {
					if !failed[m.ID] {
						if err := work.Delete(ctx, m.Receipt); err != nil {
							b.Errorf("event source delete: %v", err)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if got := made(); got != n {
		b.Fatalf("%d backups created in 10 minutes; want %d\n%s", got, n, tail(logs))
	}
	label := fmt.Sprintf("lambda consumers=%d share=%d", consumers, share)
	_, _ = reportWindow(b, emu, label, 0, front.db.throttled.Load())
	b.Logf("%s: %d batches, %d records failed", label, batches.Load(), failedItems.Load())
}

// sqsEvent is the event Lambda's SQS event source hands the function,
// built with aws-lambda-go's own types.
func sqsEvent(ms []queue.Message) []byte {
	var ev events.SQSEvent
	for _, m := range ms {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.ID, ReceiptHandle: m.Receipt, Body: string(m.Body),
			Attributes:  map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.Receives), "SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10)},
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:backupflow-work", AWSRegion: "us-east-1"})
	}
	out, _ := json.Marshal(ev)
	return out
}

// reportWindow logs and reports a night's window over its bound (the
// slowest product's (count-1) ÷ rate, fault-adjusted), and returns the
// backups made and the first one's time.
func reportWindow(b *testing.B, emu *emulator.Emulator, label string, faults float64, throttled int64) (int, time.Time) {
	created := map[provider.Product][]time.Time{}
	for _, j := range emu.Jobs() {
		if !j.Auto {
			created[j.Product] = append(created[j.Product], j.Created)
		}
	}
	total, bound := 0, time.Duration(0)
	var first, last time.Time
	for _, p := range slices.Sorted(maps.Keys(created)) {
		ts := created[p]
		slices.SortFunc(ts, time.Time.Compare)
		total += len(ts)
		rate := provider.LimitsOf(p, provider.Backup).CreatePerSecond
		floor := time.Duration(float64(len(ts)-1) / rate * float64(time.Second))
		bound = max(bound, floor)
		if first.IsZero() || ts[0].Before(first) {
			first = ts[0]
		}
		last = later(last, ts[len(ts)-1])
		b.Logf("%s %-9s %3d creates in %6.2fs; its own floor at %2.0f/s %6.2fs", label, p, len(ts),
			ts[len(ts)-1].Sub(ts[0]).Seconds(), rate, floor.Seconds())
	}
	window := last.Sub(first)
	bound = time.Duration(float64(bound) / (1 - faults))
	b.Logf("%s window %.2fs (first create to last), bound %.2fs (slowest product, fault-adjusted): ×%.3f; %d calls throttled",
		label, window.Seconds(), bound.Seconds(), float64(window)/float64(max(bound, 1)), throttled)
	b.ReportMetric(float64(window)/float64(max(bound, 1)), "window/bound")
	b.ReportMetric(float64(throttled), "throttled")
	return total, first
}
