package interop_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// teamHook plays a Slack incoming webhook whose first post goes wrong as
// mode says — "hold": never answered, so the function is killed by its
// timeout while sending; "fail": answered 500 — and whose later posts are
// taken ("ok"). delivered counts the posts taken.
type teamHook struct {
	srv       *httptest.Server
	mu        sync.Mutex
	posts     int
	delivered []string
}

func newTeamHook(t *testing.T, mode string) *teamHook {
	h := &teamHook{}
	release := make(chan struct{})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.posts++
		first := h.posts == 1
		h.mu.Unlock()
		switch {
		case first && mode == "hold":
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		case first && mode == "fail":
			http.Error(w, "internal_error", http.StatusInternalServerError)
			return
		}
		h.mu.Lock()
		h.delivered = append(h.delivered, string(b))
		h.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(func() { close(release); h.srv.Close() })
	return h
}

// summaryTitle matches a nightly run's summary (pkg/notify's titles), which
// goes to the same channel and names the failed instance too.
var summaryTitle = regexp.MustCompile(`\d+ of \d+ jobs? did not succeed|all \d+ jobs succeeded|: 1 job succeeded|: no jobs ran`)

// taken returns the job notices the hook took, run summaries left out.
func (h *teamHook) taken() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.delivered {
		if !summaryTitle.MatchString(b) {
			out = append(out, b)
		}
	}
	return out
}

// TestLambdaLostNotification (issue 13 item 4): poll-status claims a job's
// outcome, then notifies. When the process dies between the two — here
// killed by Lambda's timeout while the team webhook holds the post — or the
// post fails, the record is redelivered; the redelivery finds the outcome
// without its notification and sends it, once. Before the fix the
// redelivery was dropped as a duplicate and a failed send was never
// retried: the team never heard of the failed backup. The functions share
// an s3:// ledger on gofakes3, so what poll-status claimed survives its
// restart.
func TestLambdaLostNotification(t *testing.T) {
	t.Parallel() // it waits for redeliveries, beside the SQS suite
	for _, tc := range []struct{ mode, name string }{
		{"hold", "poll-status killed by its timeout between the outcome claim and the notification → the redelivery notifies, once"},
		{"fail", "poll-status whose notification post fails (500) → the redelivery notifies, once"},
	} {
		e := startEmulator(t)
		hk := newTeamHook(t, tc.mode)
		env := lambdaEnv(e, "lostnotice-"+tc.mode)
		s3 := startS3(t, "backupflow-ledger")
		env["BACKUPFLOW_LEDGER"] = "s3://backupflow-ledger/interop-lostnotice"
		env["BACKUPFLOW_AWS_ENDPOINT"] = s3.URL
		for _, v := range []string{"BACKUPFLOW_WORK_QUEUE", "BACKUPFLOW_POLL_QUEUE", "BACKUPFLOW_DEAD_QUEUE"} {
			env[v] += "&endpoint=" + e.URL
		}
		env["BACKUPFLOW_FIRST_POLL"], env["BACKUPFLOW_POLL_MIN"] = "1s", "1s"
		env["BACKUPFLOW_NOTIFY"] = "slack:" + hk.srv.URL + "/services/T0INTEROP/B0INTEROP/team"
		// The redelivery waits this long for a live claimant to notify.
		env["BACKUPFLOW_NOTIFY_LEASE"] = "2s"
		create := startRIE(t, "create-backup", env)
		pollEnv := map[string]string{}
		for k, v := range env {
			pollEnv[k] = v
		}
		// Shorter than the notifier's 10 s post timeout: a held post kills
		// the invocation as Lambda kills one that overruns.
		pollEnv["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "4"
		poll := startRIE(t, "poll-status", pollEnv)
		q := sqsClient(e)
		check(t, rieClient, tc.name, func(c *R) {
			ctx := deadline(t, 150*time.Second)
			// cmgo-f4il0001's every backup fails: a failure is notified on
			// its own, not only in the run's summary.
			if inv, err := create.invoke(ctx, []byte(`{"targets":["cmgo-f4il0001"]}`)); err != nil || inv.err != nil {
				c.Errorf("schedule: %v %s", err, inv)
				return
			}
			_, from := poll.logs.From(0)
			until := time.Now().Add(90 * time.Second)
			for time.Now().Before(until) && ctx.Err() == nil {
				deliver(ctx, &R{t: c.t}, q, create, "backupflow-work")
				// A held post ends the invocation with "Task timed out",
				// the record not deleted: SQS delivers it again.
				deliver(ctx, &R{t: c.t}, q, poll, "backupflow-poll")
				if len(hk.taken()) > 0 {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			logs, _ := poll.logs.From(from)
			if !strings.Contains(logs, "job finished") {
				c.Errorf("poll-status never finished the job: %s", logs)
				return
			}
			// A few more rounds: a second notice would show here.
			for range 4 {
				deliver(ctx, &R{t: c.t}, q, poll, "backupflow-poll")
				time.Sleep(time.Second)
			}
			got := hk.taken()
			hk.mu.Lock()
			posts := hk.posts
			hk.mu.Unlock()
			switch {
			case len(got) > 0 && posts < 2:
				c.Errorf("the first post (to %s) was not met: the case proved nothing", tc.mode)
			case len(got) == 0:
				c.Errorf("the job's failure was never notified (%d posts, the first %s); the redelivery dropped it", hk.posts, tc.mode)
			case len(got) > 1:
				c.Errorf("%d notices reached the team; want one", len(got))
			case !strings.Contains(got[0], "cmgo-f4il0001"):
				c.Errorf("the notice does not name cmgo-f4il0001: %s", got[0])
			}
		})
	}
}
