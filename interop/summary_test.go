package interop_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// summaries returns the run summaries the hook took for run.
func (h *teamHook) summaries(run string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.delivered {
		if summaryTitle.MatchString(b) && strings.Contains(b, run) {
			out = append(out, b)
		}
	}
	return out
}

// TestLambdaLostSummary (issue 13 item 11, the summary): the nightly run's
// one summary is sent by whichever poll-status ends its last job. When
// that process is killed while posting it — Lambda's timeout, the team
// webhook holding the post — nothing else would ever send it; the next
// nightly invocation's sweep (on AWS the nightly run is the sweep's turn)
// finds the run with every job ended and no summary sent, and sends it,
// once. Found by the crash soak; fixed in e2bc67e.
func TestLambdaLostSummary(t *testing.T) {
	t.Parallel() // it waits for redeliveries, beside the SQS suite
	e := startEmulator(t)
	hk := newTeamHook(t, "hold")
	env := lambdaEnv(e, "lostsummary")
	s3 := startS3(t, "backupflow-ledger")
	env["BACKUPFLOW_LEDGER"] = "s3://backupflow-ledger/interop-lostsummary"
	env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
	for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
		env[v] += "&endpoint=" + e.URL
	}
	env["BACKUPFLOW_FIRST_POLL"], env["BACKUPFLOW_POLL_MIN"] = "1s", "1s"
	env["BACKUPFLOW_NOTIFY"] = "slack:" + hk.srv.URL + "/services/T0INTEROP/B0INTEROP/team"
	env["BACKUPFLOW_NOTIFY_LEASE"] = "2s"
	create := startRIE(t, "create-backup", env)
	pollEnv := map[string]string{}
	for k, v := range env {
		pollEnv[k] = v
	}
	pollEnv["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "4"
	poll := startRIE(t, "poll-status", pollEnv)
	q := sqsClient(e)
	check(t, rieClient, "poll-status killed while posting a run's summary → the next nightly invocation sends it, once", func(c *R) {
		ctx := deadline(t, 150*time.Second)
		// Two nights, a minute apart (template.yaml passes the scheduled time).
		night1 := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
		inv, err := create.invoke(ctx, []byte(`{"targets":["cdb-c1nl9rpv"],"scheduledTime":"`+night1.Format(time.RFC3339)+`"}`))
		var rep struct {
			Run string `json:"run"`
		}
		if err != nil || inv.err != nil || json.Unmarshal(inv.body, &rep) != nil || rep.Run == "" {
			c.Errorf("night 1: %v %s", err, inv)
			return
		}
		_, from := poll.logs.From(0)
		until := time.Now().Add(60 * time.Second)
		var logs string
		for time.Now().Before(until) && !strings.Contains(logs, "job finished") {
			deliver(ctx, &R{t: c.t}, q, create, "backupflow-work")
			deliver(ctx, &R{t: c.t}, q, poll, "backupflow-poll")
			logs, _ = poll.logs.From(from)
			time.Sleep(500 * time.Millisecond)
		}
		if !strings.Contains(logs, "job finished") {
			c.Errorf("poll-status never finished night 1's job: %s", logs)
			return
		}
		// Redeliveries of the killed invocation's record, as SQS makes them.
		for range 5 {
			deliver(ctx, &R{t: c.t}, q, poll, "backupflow-poll")
			time.Sleep(time.Second)
		}
		hk.mu.Lock()
		posts := hk.posts
		hk.mu.Unlock()
		if posts == 0 {
			c.Errorf("night 1's summary was never posted: the case proved nothing")
			return
		}
		inv, err = create.invoke(ctx, []byte(`{"targets":["cdb-k2m4p6r8"],"scheduledTime":"`+night1.Add(time.Minute).Format(time.RFC3339)+`"}`))
		if err != nil || inv.err != nil {
			c.Errorf("night 2: %v %s", err, inv)
			return
		}
		for range 3 { // a summary sent by a redelivery would count here too
			deliver(ctx, &R{t: c.t}, q, poll, "backupflow-poll")
			time.Sleep(500 * time.Millisecond)
		}
		if got := hk.summaries(rep.Run); len(got) != 1 {
			c.Errorf("%d summaries of %s reached the team after its summarizer was killed (%d posts in all); want one", len(got), rep.Run, posts)
		}
	})
}
