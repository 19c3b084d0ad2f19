package interop_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// nullAPI forwards the Tencent API to target, except that it answers a
// CreateBackup of instance with exactly `null` (HTTP 200, JSON): a
// hostile answer the Tencent SDK's decoder does not survive.
func nullAPI(t *testing.T, target, instance string) (*httptest.Server, *atomic.Int32) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var nulls atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Header.Get("X-TC-Action") == "CreateBackup" && bytes.Contains(body, []byte(instance)) {
			nulls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "null")
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &nulls
}

// TestLambdaPoisonMessage (issue 13 item 8): a cloud answer of exactly
// `null` panicked inside the SDK, nothing recovered it, and the whole SQS
// batch died with the process — every record came back, forever. Now the
// null answer fails its own record only (the batch's other job starts) and
// a record that keeps coming back unhandled is dead-lettered with its
// reason once SQS has delivered it more than ten times.
func TestLambdaPoisonMessage(t *testing.T) {
	e := startEmulator(t)
	const poisoned, healthy = "cdb-k2m4p6r8", "cdb-c1nl9rpv"
	api, nulls := nullAPI(t, e.URL, poisoned)
	env := lambdaEnv(e, "poison")
	env["BACKUPFLOW_TENCENT_ENDPOINT"] = strings.TrimPrefix(api.URL, "http://")
	r := startRIE(t, "create-backup", env)
	q := sqsClient(e)
	creates := map[string]events.SQSMessage{}
	var next events.SQSMessage // the null-answered job's record still to handle
	check(t, rieClient, "create-backup a cloud answer of exactly null in one record of a batch → the batch survives, the other backup starts, the null one is kept", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		if inv, err := r.invoke(ctx, []byte(`{"targets":["`+healthy+`","`+poisoned+`"]}`)); err != nil || inv.err != nil {
			c.Errorf("schedule: %v %s", err, inv)
			return
		}
		work, err := take(ctx, q, "backupflow-work")
		for _, m := range work {
			for _, id := range []string{healthy, poisoned} {
				if strings.Contains(m.Body, `"`+id+`"`) {
					creates[id] = m
				}
			}
		}
		if err != nil || len(creates) != 2 {
			c.Errorf("the run queued creates for %d of the 2 targets: %v", len(creates), err)
			return
		}
		batch, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{creates[poisoned], creates[healthy]}})
		_, from := r.logs.From(0)
		inv, err := r.invoke(ctx, batch)
		logs, _ := r.logs.From(from)
		if nulls.Load() == 0 {
			c.Errorf("the null answer was never given: the case proved nothing")
		}
		var br batchResponse
		if err != nil || inv.err != nil || json.Unmarshal(inv.body, &br) != nil {
			c.Errorf("the batch died with the null answer (every record would come back): %v %s", err, inv)
			return
		}
		failed := map[string]bool{}
		for _, f := range br.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		if failed[creates[healthy].MessageId] || !strings.Contains(logs, "cloud job started") {
			c.Errorf("the healthy record's backup did not start beside the null answer: %s; %s", inv.body, logs)
		}
		// The null record is not lost: listed as failed (SQS delivers it
		// again) or its job's next try queued.
		next = creates[poisoned]
		if !failed[creates[poisoned].MessageId] {
			time.Sleep(6 * time.Second) // the longest first retry delay
			again, _ := take(ctx, q, "backupflow-work")
			var retry []events.SQSMessage
			for _, m := range again {
				if jobID(m) == jobID(creates[poisoned]) {
					retry = append(retry, m)
				}
			}
			if len(retry) == 0 {
				c.Errorf("the null-answered record was neither listed as failed nor retried: %s", inv.body)
				return
			}
			next = retry[0]
		}
	})
	check(t, rieClient, "create-backup a record on its 11th receive → dead-lettered with its reason, not handled again", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		m := next
		if m.Body == "" {
			c.Errorf("no create record from the previous case")
			return
		}
		// The null-answered job's pending record, as SQS hands it over
		// when it came back ten times unhandled: Lambda passes the receive
		// count with each record; 11 is one past the function's limit of 10
		// (the queues' own redrive is at 11).
		m.Attributes = map[string]string{"ApproximateReceiveCount": "11"}
		_ = purge(ctx, q, "backupflow-dead")
		_, from := r.logs.From(0)
		before := nulls.Load()
		if !handOver(ctx, c, r, "the 11th receive", m) {
			return
		}
		// The function's log reaches the RIE's output a moment after the answer.
		var logs string
		for i := 0; i < 20 && !strings.Contains(logs, "END RequestId"); i++ {
			time.Sleep(100 * time.Millisecond)
			logs, _ = r.logs.From(from)
		}
		if strings.Contains(logs, "cloud job started") || nulls.Load() != before {
			c.Errorf("a record received 11 times was handled again: %s", logs)
		}
		dead, err := received(ctx, q, "backupflow-dead", 10)
		found := false
		for _, d := range dead {
			if strings.Contains(d.Body, jobID(m)) {
				found = true
				if !strings.Contains(logs, "11 times") {
					c.Errorf("dead-lettered without its reason (received 11 times …) in its outcome or log: %s", logs)
				}
			}
		}
		if !found {
			c.Errorf("the record on its 11th receive was not dead-lettered (%d on the dead queue, %v): %s", len(dead), err, logs)
		}
	})
}
