package interop_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

const rieClient = "aws-lambda-rie"

// rie is one function's bootstrap running under the Runtime Interface
// Emulator, as Lambda runs it.
type rie struct {
	addr string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// syncBuffer is the function's stdout and stderr, read while the RIE writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// From returns what was written after offset n, and the new offset.
func (s *syncBuffer) From(n int) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b.Bytes()[n:]), s.b.Len()
}

func (s *syncBuffer) String() string { out, _ := s.From(0); return out }

func startRIE(t *testing.T, fn string, env map[string]string) *rie {
	t.Helper()
	// freePort's port is free when asked, not when the RIE binds it: a
	// process started beside this one may have taken it. The RIE then dies
	// at once; it is started again on other ports.
	for try := 1; ; try++ {
		r, err := launchRIE(t, fn, env)
		if err == nil {
			return r
		}
		if try == 3 {
			t.Fatalf("%s under rie: %v", fn, err)
		}
		t.Logf("%s under rie: %v; starting it on other ports", fn, err)
	}
}

// launchRIE starts the RIE and waits until both its Invoke API and its
// Runtime API answer, or it has exited.
func launchRIE(t *testing.T, fn string, env map[string]string) (*rie, error) {
	addr, api := freePort(t), freePort(t)
	cmd := exec.Command(filepath.Join(bin, "aws-lambda-rie"),
		"--runtime-interface-emulator-address", addr, "--runtime-api-address", api,
		filepath.Join(bin, fn, "bootstrap"))
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_NAME="+fn, "LOG_LEVEL=error")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	up := func(a string) bool {
		c, err := net.Dial("tcp", a)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	for start := time.Now(); !up(addr) || !up(api); {
		select {
		case err := <-exited:
			exited <- err
			out, _ := logs.From(0)
			return nil, fmt.Errorf("exited before listening (%v): %s", err, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(start) > 30*time.Second {
			_ = cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("not listening on %s and %s after 30 s", addr, api)
		}
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s under rie:\n%s", fn, logs)
		}
	})
	return &rie{addr: addr, cmd: cmd, logs: logs}, nil
}

// invocation is what the Invoke API answers: the function's response, or
// its error document ({"errorMessage","errorType"}).
type invocation struct {
	status int
	body   []byte
	err    *struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
}

func (r *rie) invoke(ctx context.Context, payload []byte) (invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+r.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return invocation{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return invocation{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	inv := invocation{status: resp.StatusCode, body: body}
	var e struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Message != "" || e.Type != "") {
		inv.err = &e
	}
	return inv, err
}

func (i invocation) String() string {
	if i.err != nil {
		return fmt.Sprintf("error %s: %s", i.err.Type, i.err.Message)
	}
	return fmt.Sprintf("%d %s", i.status, i.body)
}

// lambdaEnv is a Lambda function's configuration against the emulator:
// SQS queues on its SQS API, the ledger in the function's memory (the
// emulator serves COS, not S3; the S3 ledger is proven against gofakes3).
func lambdaEnv(e *emu, prefix string) map[string]string {
	env := map[string]string{}
	for k, v := range e.env {
		env[k] = v
	}
	env["AWS_REGION"] = "us-east-1"
	env["BACKUPFLOW_WORK_QUEUE"] = "sqs://backupflow-work?region=us-east-1"
	env["BACKUPFLOW_POLL_QUEUE"] = "sqs://backupflow-poll?region=us-east-1"
	env["BACKUPFLOW_DEAD_QUEUE"] = "sqs://backupflow-dead?region=us-east-1"
	env["BACKUPFLOW_LEDGER"] = "mem://" + prefix
	env["BACKUPFLOW_OBJECT_STORE"] = "s3" // as template.yaml sets it
	return env
}

// sqsClient is the AWS SDK's own SQS client, pointed at the emulator.
func sqsClient(e *emu) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(e.env["AWS_ACCESS_KEY_ID"], e.env["AWS_SECRET_ACCESS_KEY"], ""),
	})
}

func queueURL(ctx context.Context, c *sqs.Client, name string) (string, error) {
	out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// drain receives every visible message of a queue (deleting none): what a
// case left behind.
func received(ctx context.Context, c *sqs.Client, name string, max int32) ([]events.SQSMessage, error) {
	u, err := queueURL(ctx, c, name)
	if err != nil {
		return nil, err
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), MaxNumberOfMessages: max,
		WaitTimeSeconds: 0, VisibilityTimeout: 1, MessageSystemAttributeNames: nil})
	if err != nil {
		return nil, err
	}
	var msgs []events.SQSMessage
	for _, m := range out.Messages {
		msgs = append(msgs, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), EventSource: "aws:sqs", AWSRegion: "us-east-1",
			EventSourceARN: "arn:aws:sqs:us-east-1:111122223333:" + name,
			Attributes:     map[string]string{"ApproximateReceiveCount": "1"}})
	}
	return msgs, nil
}

func sampleFiles(t *testing.T, fn string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "events", fn, "aws-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sampleOutcome is what events/outcomes.json, beside the samples, writes
// down for one: the exit code of `backupflow invoke` with it against a fresh
// emulator and a line that run prints.
type sampleOutcome struct {
	Exit   int    `json:"exit"`
	Output string `json:"output"`
}

// outcomeOf reads the outcome written for sample (events/<fn>/<name>).
func outcomeOf(sample string) (sampleOutcome, bool) {
	b, err := os.ReadFile(filepath.Join("..", "events", "outcomes.json"))
	if err != nil {
		return sampleOutcome{}, false
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(b, &all) != nil {
		return sampleOutcome{}, false
	}
	key := filepath.Base(filepath.Dir(sample)) + "/" + filepath.Base(sample)
	var o sampleOutcome
	if raw, ok := all[key]; !ok || json.Unmarshal(raw, &o) != nil {
		return sampleOutcome{}, false
	}
	return o, true
}

type batchResponse struct {
	BatchItemFailures []struct {
		ItemIdentifier string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// TestLambdaUnderRIE: every AWS sample and the stray payloads, through each
// function's bootstrap under the Runtime Interface Emulator.
func TestLambdaUnderRIE(t *testing.T) {
	for _, fn := range []string{"create-backup", "start-migration", "poll-status"} {
		// An emulator per function: a sample's delayed messages (a create's
		// retry) surface later and would be counted as the work of another
		// function's stray payload.
		e := startEmulator(t)
		env := lambdaEnv(e, "rie-"+fn)
		r := startRIE(t, fn, env)
		// Stray payloads first: a sample's spread or delayed work (the
		// nightly fan-out's) would surface later as if a stray had queued it.
		for _, stray := range []struct{ name, body string }{
			{"empty object {}", `{}`},
			{"console default test event", `{"key1":"value1","key2":"value2","key3":"value3"}`},
			{"hello world", `{"hello":"world"}`},
			// A typo in a schedule's custom Input: strict, never a run over everything.
			{"selection typo {\"target\":[…]}", `{"target":["cdb-c1nl9rpv"]}`},
		} {
			check(t, rieClient, fn+" stray "+stray.name, func(c *R) {
				ctx := deadline(t, 60*time.Second)
				if err := purge(ctx, sqsClient(e), "backupflow-work"); err != nil {
					c.Errorf("purge: %v", err)
				}
				inv, err := r.invoke(ctx, []byte(stray.body))
				if err != nil {
					c.Errorf("invoke: %v", err)
					return
				}
				if inv.err == nil {
					c.Errorf("a stray payload was accepted: %s (want a function error naming what arrived)", inv)
				}
				msgs, err := received(ctx, sqsClient(e), "backupflow-work", 10)
				if err != nil {
					c.Errorf("sqs: %v", err)
				}
				if len(msgs) > 0 {
					c.Errorf("a stray payload queued %d work messages, e.g. %s", len(msgs), msgs[0].Body)
				}
			})
		}
		for _, s := range sampleFiles(t, fn) {
			name := fn + " " + filepath.Base(s)
			check(t, rieClient, name, func(c *R) {
				payload, err := os.ReadFile(s)
				if err != nil {
					c.Errorf("%v", err)
					return
				}
				// Each sample in a fresh instance, with its own in-memory
				// ledger, as outcomes.json records it (against fresh state).
				// In one warm instance the schedule samples are deliveries
				// of one night (the same scheduledTime), and a repeat rightly
				// queues only what an earlier one did not.
				r := startRIE(t, fn, env)
				ctx := deadline(t, 60*time.Second)
				_ = purge(ctx, sqsClient(e), "backupflow-work")
				_, from := r.logs.From(0)
				inv, err := r.invoke(ctx, payload)
				if err != nil {
					c.Errorf("invoke: %v", err)
					return
				}
				logs, _ := r.logs.From(from)
				checkSample(c, e, s, payload, inv, logs)
			})
		}
	}
}

// checkSample holds a sample's answer to AWS's documented shapes and to the
// outcome written beside it.
func checkSample(c *R, e *emu, sample string, payload []byte, inv invocation, logs string) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
			MessageID   string `json:"messageId"`
			Body        string `json:"body"`
		}
	}
	_ = json.Unmarshal(payload, &probe)
	isSQS := len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs"
	if inv.status != http.StatusOK {
		c.Errorf("status %d: %s", inv.status, inv.body)
		return
	}
	if isSQS {
		// Partial batch response: {"batchItemFailures":[{"itemIdentifier":…}]}
		// naming only records of this batch; a whole-batch error would
		// redeliver the good records too.
		if inv.err != nil {
			c.Errorf("an SQS batch must answer batchItemFailures, not fail whole: %s", inv)
			return
		}
		var br batchResponse
		dec := json.NewDecoder(bytes.NewReader(inv.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&br); err != nil {
			c.Errorf("response is not AWS's partial batch response: %v: %s", err, inv.body)
			return
		}
		ids := map[string]bool{}
		for _, rec := range probe.Records {
			ids[rec.MessageID] = true
		}
		for _, f := range br.BatchItemFailures {
			if !ids[f.ItemIdentifier] {
				c.Errorf("batchItemFailures names %q, not a record of the batch", f.ItemIdentifier)
			}
		}
		if strings.Contains(sample, "malformed") && len(br.BatchItemFailures) == 0 && !deadLettered(e, probe.Records[len(probe.Records)-1].Body) {
			c.Errorf("a malformed record is neither listed as failed nor dead-lettered: %s", inv.body)
		}
	} else if inv.err != nil {
		c.Errorf("sample refused: %s", inv)
	}
	checkOutcome(c, e, sample, inv, logs)
}

// absentObject are the outcomes of a missing import object, as stores name it.
var absentObject = map[string]bool{"NoSuchBucket": true, "NoSuchKey": true}

// failedLine is the first log line that reports a failed or dead-lettered job.
func failedLine(logs string) string {
	for _, l := range strings.Split(logs, "\n") {
		if containsAny(l, `"result":"failed"`, "dead-lettered") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// checkOutcome holds an invocation to the outcome events/outcomes.json
// writes for its sample. That file is in `backupflow invoke`'s terms; under
// Lambda, exit 0 is an invocation with no function error, no failed record
// and no job logged as failed or dead-lettered, and invoke's renderings are read as what they stand for ("  work:
// " is work queued, `"batchItemFailures": []` no failed record); exit 1 is a
// failure whose line appears in the answer or in the function's log of this
// invocation (a failed job is logged, not thrown: its message is handled).
func checkOutcome(c *R, e *emu, sample string, inv invocation, logs string) {
	want, ok := outcomeOf(sample)
	if !ok {
		c.Errorf("events/outcomes.json writes no outcome for this sample")
		return
	}
	var br batchResponse
	_ = json.Unmarshal(inv.body, &br)
	switch {
	case want.Exit == 0 && (inv.err != nil || len(br.BatchItemFailures) > 0):
		c.Errorf("outcomes.json expects success; the invocation answered %s", inv)
	case want.Exit == 0 && containsAny(logs, `"result":"failed"`, "dead-lettered"):
		// A handled record whose job failed, or that was dead-lettered, is
		// still a failure to invoke.
		c.Errorf("outcomes.json expects success; the function logged a failed or dead-lettered job: %s", failedLine(logs))
	case want.Output == "  work: ":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if msgs, err := received(ctx, sqsClient(e), "backupflow-work", 1); err != nil || len(msgs) == 0 {
			c.Errorf("outcomes.json expects work queued; none is on the work queue (%v)", err)
		}
	case want.Output == `"batchItemFailures": []`:
		if inv.err != nil || !strings.Contains(strings.ReplaceAll(string(inv.body), " ", ""), `"batchItemFailures":[]`) {
			c.Errorf("outcomes.json expects an empty batchItemFailures; answered %s", inv)
		}
	case want.Exit != 0 && absentObject[want.Output]:
		// The object of an import sample is on no store here. `invoke` meets
		// the COS emulator's NoSuchBucket; the Lambda build asks S3 (the
		// emulator answers a bare 404): the same outcome, the job failed
		// for the missing object, in the store's own words.
		if !strings.Contains(logs, `"result":"failed"`) || !containsAny(logs, "NoSuchBucket", "NoSuchKey", "NotFound") {
			c.Errorf("outcomes.json expects the import to fail for its missing object (%s); the function's log does not say so", want.Output)
		}
	case want.Exit != 0 && !strings.Contains(inv.String(), want.Output) && !strings.Contains(logs, want.Output):
		c.Errorf("outcomes.json expects a failure with %q; neither the answer (%s) nor the function's log says it", want.Output, inv)
	}
}

// TestLambdaSQSEventSource plays Lambda's SQS event source honestly: a
// nightly schedule queues work; the records received from the emulator's
// SQS (plus one malformed record) are given to create-backup as one batch,
// and only those not listed in batchItemFailures are deleted.
func TestLambdaSQSEventSource(t *testing.T) {
	e := startEmulator(t)
	env := lambdaEnv(e, "esm")
	r := startRIE(t, "create-backup", env)
	c := sqsClient(e)
	check(t, rieClient, "create-backup SQS event source: nightly → batch → delete the successes only", func(cr *R) {
		ctx := deadline(t, 120*time.Second)
		sched, _ := os.ReadFile(filepath.Join("..", "events", "create-backup", "aws-schedule.json"))
		// The scheduled time of this run is now, as EventBridge sets it.
		var ev map[string]any
		_ = json.Unmarshal(sched, &ev)
		ev["time"] = time.Now().UTC().Format(time.RFC3339)
		sched, _ = json.Marshal(ev)
		inv, err := r.invoke(ctx, sched)
		if err != nil || inv.err != nil {
			cr.Errorf("nightly schedule: %v %s", err, inv)
			return
		}
		msgs, err := received(ctx, c, "backupflow-work", 9)
		if err != nil || len(msgs) == 0 {
			cr.Errorf("the nightly run queued no work on SQS: %v", err)
			return
		}
		bad := events.SQSMessage{MessageId: "malformed-0001", ReceiptHandle: "bogus", Body: `{"v":1,"job":`,
			EventSource: "aws:sqs", EventSourceARN: msgs[0].EventSourceARN, AWSRegion: "us-east-1",
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
		batch, _ := json.Marshal(events.SQSEvent{Records: append(msgs, bad)})
		inv, err = r.invoke(ctx, batch)
		if err != nil || inv.err != nil {
			cr.Errorf("batch: %v %s", err, inv)
			return
		}
		var br batchResponse
		if err := json.Unmarshal(inv.body, &br); err != nil {
			cr.Errorf("batch response: %v: %s", err, inv.body)
			return
		}
		failed := map[string]bool{}
		for _, f := range br.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		// A malformed record may be failed (SQS redelivers it, then its
		// redrive policy dead-letters it) or dead-lettered by the function
		// at once; deleting it is then right. Either way it is not lost.
		if !failed[bad.MessageId] && !deadLettered(e, bad.Body) {
			cr.Errorf("the malformed record is neither in batchItemFailures nor dead-lettered: %s", inv.body)
		}
		u, _ := queueURL(ctx, c, "backupflow-work")
		deleted := 0
		for _, m := range msgs {
			if failed[m.MessageId] {
				continue
			}
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
				cr.Errorf("delete %s: %v", m.MessageId, err)
			}
			deleted++
		}
		if deleted == 0 {
			cr.Errorf("every work record failed: %s", inv.body)
		}
		// Past the visibility timeout SQS redelivers exactly what was not
		// deleted: the records the function listed as failed.
		time.Sleep(1500 * time.Millisecond)
		again, err := received(ctx, c, "backupflow-work", 10)
		if err != nil {
			cr.Errorf("receive: %v", err)
		}
		inBatch := map[string]bool{}
		for _, m := range msgs {
			inBatch[m.MessageId] = true
		}
		for _, m := range again {
			if inBatch[m.MessageId] && !failed[m.MessageId] {
				cr.Errorf("record %s came back though the function did not list it as failed", m.MessageId)
			}
		}
	})
}

// TestLambdaTimeout: a 1-second function timeout (the cloud APIs hang) is
// survived: the RIE ends the invocation as Lambda does ("Task timed out"),
// restarts the runtime, and the next invocation does the nightly run —
// its work is on the queue.
func TestLambdaTimeout(t *testing.T) {
	e := startEmulator(t)
	target := strings.TrimPrefix(e.URL, "http://")
	var hang atomic.Bool
	hang.Store(true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go proxy(l, target, &hang)
	env := lambdaEnv(e, "timeout")
	// The Tencent API (and nothing else) goes through a proxy that first
	// holds every connection unanswered.
	env["BACKUPFLOW_TENCENT_ENDPOINT"] = l.Addr().String()
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "1"
	r := startRIE(t, "create-backup", env)
	check(t, rieClient, "create-backup 1 s timeout survived, next invocation works", func(c *R) {
		ctx := deadline(t, 90*time.Second)
		sched, _ := os.ReadFile(filepath.Join("..", "events", "create-backup", "aws-schedule.json"))
		start := time.Now()
		inv, err := r.invoke(ctx, sched)
		if err != nil {
			c.Errorf("invoke: %v", err)
			return
		}
		// The RIE ends the invocation at its deadline; the function's own
		// context ends then too, so under load its call to the hanging API
		// may give up a moment first and answer that error instead.
		if !strings.Contains(string(inv.body), "timed out") && (inv.err == nil || !containsAny(inv.err.Message, "NetworkError", "deadline exceeded")) {
			c.Errorf("want a timeout with the API hanging, got %s after %s", inv, time.Since(start))
		}
		if got, _ := take(ctx, sqsClient(e), "backupflow-work"); len(got) != 0 {
			c.Errorf("the timed-out run, its API hanging, queued %d jobs", len(got))
		}
		hang.Store(false)
		var last invocation
		for i := 0; i < 3; i++ { // the runtime is restarted after a timeout
			if last, err = r.invoke(ctx, sched); err == nil && last.status == http.StatusOK && last.err == nil {
				// It did the run: the nightly's work is on the queue.
				if got, err := take(ctx, sqsClient(e), "backupflow-work"); err != nil || len(got) == 0 {
					c.Errorf("the invocation after the timeout answered %s but queued no work (%v)", last, err)
				}
				return
			}
		}
		c.Errorf("the invocation after the timeout: %v %s", err, last)
	})
}

// proxy forwards connections to target, or holds them unanswered while hang
// is set.
func proxy(l net.Listener, target string, hang *atomic.Bool) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			if hang.Load() {
				_, _ = io.Copy(io.Discard, conn)
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() { _, _ = io.Copy(up, conn) }()
			_, _ = io.Copy(conn, up)
		}()
	}
}

// purge deletes every visible message of a queue.
func purge(ctx context.Context, c *sqs.Client, name string) error {
	u, err := queueURL(ctx, c, name)
	if err != nil {
		return err
	}
	for {
		msgs, err := received(ctx, c, name, 10)
		if err != nil || len(msgs) == 0 {
			return err
		}
		for _, m := range msgs {
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
				return err
			}
		}
	}
}

// deadLettered reports whether the dead queue holds a message carrying body.
// The messages it looks at become visible again after their timeout.
func deadLettered(e *emu, body string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := received(ctx, sqsClient(e), "backupflow-dead", 10)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if strings.Contains(m.Body, body) || strings.Contains(m.Body, strings.ReplaceAll(body, `"`, `\"`)) {
			return true
		}
	}
	return false
}

// TestLambdaScheduleRetry: EventBridge Scheduler retries an invocation it
// thinks failed with the same input. The template's input carries the
// scheduled time, so the retry must make the same jobs (issue 13 item 2),
// never a second set of backups.
func TestLambdaScheduleRetry(t *testing.T) {
	// A retry comes later (the scheduler backs off); the nightly slot is the
	// minute, so the second invocation waits for the next minute. It runs
	// beside the SQS conformance suite, which sleeps longer.
	t.Parallel()
	e := startEmulator(t)
	r := startRIE(t, "create-backup", lambdaEnv(e, "retry"))
	q := sqsClient(e)
	check(t, rieClient, "create-backup the same Scheduler invocation retried a minute later → one set of jobs", func(c *R) {
		ctx := deadline(t, 150*time.Second)
		payload, err := os.ReadFile(filepath.Join("..", "events", "create-backup", "aws-schedule-input.json"))
		if err != nil {
			c.Errorf("%v", err)
			return
		}
		first := map[string]bool{}
		for i := range 2 {
			if i == 1 {
				time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second)))
			}
			inv, err := r.invoke(ctx, payload)
			if err != nil || inv.err != nil {
				c.Errorf("invocation %d: %v %s", i+1, err, inv)
				return
			}
			got, err := take(ctx, q, "backupflow-work")
			if err != nil {
				c.Errorf("sqs: %v", err)
			}
			for _, m := range got {
				if i == 0 {
					first[jobID(m)] = true
				} else if !first[jobID(m)] {
					c.Errorf("the retry started job %s, not one of the first invocation's %d", jobID(m), len(first))
				}
			}
			if i == 0 && len(first) == 0 {
				c.Errorf("the first invocation queued no work")
				return
			}
		}
	})
}

// TestLambdaS3PutObjectPresent: the AWS S3 put sample with its object
// present, on gofakes3 (the Lambda build reads imports from S3; the
// emulator serves COS). The object starts as a native SQL Server backup
// does ("TAPE"), and the event names its ETag, as S3 would.
func TestLambdaS3PutObjectPresent(t *testing.T) {
	e := startEmulator(t)
	const bucket, key = "backupflow-imports-111122223333", "imports/mssql-rdc0gajn/orders march.bak"
	s3 := startS3(t, bucket)
	env := lambdaEnv(e, "s3put")
	env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
	env["BACKUPFLOW_FIRST_POLL"], env["BACKUPFLOW_POLL_MIN"] = "1s", "1s"
	for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
		env[v] += "&endpoint=" + e.URL
	}
	r := startRIE(t, "start-migration", env)
	check(t, rieClient, "start-migration aws-s3-put.json with the object present on gofakes3 → the import starts", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		body := "TAPE" + strings.Repeat("\x00", 60)
		if err := putObject(ctx, s3.URL, bucket, key, body); err != nil {
			c.Errorf("put the sample's object: %v", err)
			return
		}
		raw, err := os.ReadFile(filepath.Join("..", "events", "start-migration", "aws-s3-put.json"))
		if err != nil {
			c.Errorf("%v", err)
			return
		}
		var ev events.S3Event
		if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) != 1 {
			c.Errorf("the sample is not one S3 record: %v", err)
			return
		}
		sum := md5.Sum([]byte(body))
		ev.Records[0].S3.Object.ETag = hex.EncodeToString(sum[:])
		ev.Records[0].S3.Object.Size = int64(len(body))
		ev.Records[0].S3.Object.VersionID = "" // gofakes3 keeps no versions
		payload, _ := json.Marshal(ev)
		_, from := r.logs.From(0)
		inv, err := r.invoke(ctx, payload)
		if err != nil || inv.err != nil {
			c.Errorf("invoke: %v %s", err, inv)
			return
		}
		logs, _ := r.logs.From(from)
		if strings.Contains(logs, `"result":"failed"`) || !strings.Contains(logs, "cloud job started") {
			c.Errorf("the import of a present object did not start: %s", logs)
		}
		// Its first status check is queued with a delay (1 s here).
		var msgs []events.SQSMessage
		for i := 0; i < 20 && len(msgs) == 0 && err == nil; i++ {
			time.Sleep(250 * time.Millisecond)
			msgs, err = received(ctx, sqsClient(e), "backupflow-poll", 10)
		}
		if len(msgs) == 0 {
			c.Errorf("no status check queued for the started import (%v)", err)
		}
	})
}

// putObject writes one object to the S3 server at endpoint, path-style.
func putObject(ctx context.Context, endpoint, bucket, key, body string) error {
	u := endpoint + "/" + bucket + "/" + (&url.URL{Path: key}).EscapedPath()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT %s: %d %s", u, resp.StatusCode, b)
	}
	return nil
}

// TestLambdaS3PutObjectChanged: an S3 event names the upload that caused it
// (its ETag); when the object at the key is another by the time the import
// starts, the job fails with "object changed" instead of importing what is
// there now (issue 13 item 9).
func TestLambdaS3PutObjectChanged(t *testing.T) {
	e := startEmulator(t)
	const bucket, key = "backupflow-imports-111122223333", "imports/mssql-rdc0gajn/orders march.bak"
	s3 := startS3(t, bucket)
	env := lambdaEnv(e, "s3changed")
	env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
	for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
		env[v] += "&endpoint=" + e.URL
	}
	r := startRIE(t, "start-migration", env)
	check(t, rieClient, "start-migration S3 put whose object was replaced since → fails \"object changed\", imports nothing", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		// The event is for the first upload; the second replaced it.
		first, second := "TAPE"+strings.Repeat("\x01", 60), "TAPE"+strings.Repeat("\x02", 60)
		if err := putObject(ctx, s3.URL, bucket, key, second); err != nil {
			c.Errorf("put: %v", err)
			return
		}
		raw, err := os.ReadFile(filepath.Join("..", "events", "start-migration", "aws-s3-put.json"))
		var ev events.S3Event
		if err != nil || json.Unmarshal(raw, &ev) != nil || len(ev.Records) != 1 {
			c.Errorf("the sample is not one S3 record: %v", err)
			return
		}
		sum := md5.Sum([]byte(first))
		ev.Records[0].S3.Object.ETag = hex.EncodeToString(sum[:])
		ev.Records[0].S3.Object.Size = int64(len(first))
		ev.Records[0].S3.Object.VersionID = ""
		payload, _ := json.Marshal(ev)
		_, from := r.logs.From(0)
		if inv, err := r.invoke(ctx, payload); err != nil || inv.err != nil {
			c.Errorf("invoke: %v %s", err, inv)
			return
		}
		logs, _ := r.logs.From(from)
		if strings.Contains(logs, "cloud job started") || !strings.Contains(logs, "object changed") {
			c.Errorf("an import of a replaced object: want it failed with \"object changed\" and nothing started: %s", logs)
		}
	})
}

// TestLambdaDuplicateCreate: SQS delivers at least once. The same create
// record handed to create-backup twice, one after the other, starts one
// cloud job and one status chain, and the copy queues nothing. (Issue 13
// item 6 needs the copy to arrive while the first is between its start
// claim and its hand-off; this sequential case guards redelivery only and
// passes before that fix too.)
func TestLambdaDuplicateCreate(t *testing.T) {
	e := startEmulator(t)
	env := lambdaEnv(e, "dupcreate")
	env["BACKUPFLOW_FIRST_POLL"], env["BACKUPFLOW_POLL_MIN"] = "1s", "1s"
	r := startRIE(t, "create-backup", env)
	q := sqsClient(e)
	check(t, rieClient, "create-backup the same create record twice → one cloud job, one status check, nothing re-queued", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		payload, _ := os.ReadFile(filepath.Join("..", "events", "create-backup", "aws-schedule-input.json"))
		if inv, err := r.invoke(ctx, payload); err != nil || inv.err != nil {
			c.Errorf("nightly: %v %s", err, inv)
			return
		}
		work, err := take(ctx, q, "backupflow-work")
		if err != nil || len(work) == 0 {
			c.Errorf("the nightly run queued no work: %v", err)
			return
		}
		rec := work[0]
		job := jobID(rec)
		_, from := r.logs.From(0)
		for i := range 2 {
			if !handOver(ctx, c, r, fmt.Sprintf("delivery %d", i+1), rec) {
				return
			}
		}
		logs, _ := r.logs.From(from)
		if n := strings.Count(logs, "cloud job started"); n != 1 {
			c.Errorf("%d cloud jobs started for one create record; want 1", n)
		}
		time.Sleep(1500 * time.Millisecond) // the first status check's delay
		again, _ := take(ctx, q, "backupflow-work")
		for _, m := range again {
			if jobID(m) == job {
				c.Errorf("the copy queued more work for %s: %s", job, m.Body)
			}
		}
		polls, _ := take(ctx, q, "backupflow-poll")
		n := 0
		for _, m := range polls {
			if jobID(m) == job {
				n++
			}
		}
		if n != 1 {
			c.Errorf("%d status checks queued for %s; want one", n, job)
		}
	})
}
