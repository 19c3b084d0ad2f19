package interop_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// onceAPI forwards the Tencent API to target, except that the first
// CreateBackup naming each instance of codes is answered with that code as
// the API answers its own errors (HTTP 200, Response.Error).
func onceAPI(t *testing.T, target string, codes map[string]string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	answered := map[string]bool{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Header.Get("X-TC-Action") == "CreateBackup" {
			for id, code := range codes {
				mu.Lock()
				first := bytes.Contains(body, []byte(`"`+id+`"`)) && !answered[id]
				if first {
					answered[id] = true
				}
				mu.Unlock()
				if first {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"Response":{"Error":{"Code":%q,"Message":"interop: answered once"},"RequestId":"interop-%s"}}`, code, id)
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestLambdaTransientCloudCodes (issue 13 item 7): error codes the Tencent
// API gives for a passing fault of its own back end — CdbError and its
// sub-codes, InternalError.* — are not the job's fault: the create looks
// the job up and retries, and the backup starts. Before the fix an unlisted
// CdbError* was permanent and failed the job at once. A parameter error
// still fails at once, with its code.
func TestLambdaTransientCloudCodes(t *testing.T) {
	rowsWant := []struct{ instance, code, want string }{
		{"cdb-c1nl9rpv", "CdbError", "started"},
		{"cdb-k2m4p6r8", "CdbError.BackupError", "started"},
		{"mssql-i1z41iwd", "InternalError.DBError", "started"},
		{"mssql-s1ngle01", "InvalidParameterValue.IllegalParameter", "failed"},
	}
	e := startEmulator(t)
	codes := map[string]string{}
	var targets []string
	for _, rw := range rowsWant {
		codes[rw.instance] = rw.code
		targets = append(targets, `"`+rw.instance+`"`)
	}
	api := onceAPI(t, e.URL, codes)
	env := lambdaEnv(e, "codes")
	env["BACKUPFLOW_TENCENT_ENDPOINT"] = strings.TrimPrefix(api.URL, "http://")
	r := startRIE(t, "create-backup", env)
	q := sqsClient(e)
	_, from := r.logs.From(0)
	var logs string
	ran := false
	run := func(c *R) bool {
		if ran {
			return logs != ""
		}
		ran = true
		ctx := deadline(t, 90*time.Second)
		if inv, err := r.invoke(ctx, []byte(`{"targets":[`+strings.Join(targets, ",")+`]}`)); err != nil || inv.err != nil {
			c.Errorf("schedule: %v %s", err, inv)
			return false
		}
		// Until every job has started or failed.
		for ctx.Err() == nil {
			deliver(ctx, c, q, r, "backupflow-work")
			logs, _ = r.logs.From(from)
			ended := 0
			for _, rw := range rowsWant {
				if endedLine(logs, rw.instance) != "" {
					ended++
				}
			}
			if ended == len(rowsWant) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		return true
	}
	for _, rw := range rowsWant {
		check(t, rieClient, fmt.Sprintf("create-backup CreateBackup answered %s once → %s", rw.code, rw.want), func(c *R) {
			if !run(c) {
				return
			}
			l := endedLine(logs, rw.instance)
			switch {
			case l == "":
				c.Errorf("the job of %s neither started nor failed", rw.instance)
			case rw.want == "started" && !strings.Contains(l, "cloud job started"):
				c.Errorf("a passing %s ended the job: %s", rw.code, l)
			case rw.want == "failed" && (!strings.Contains(l, `"result":"failed"`) || !strings.Contains(l, rw.code)):
				c.Errorf("a %s did not fail the job at once with its code: %s", rw.code, l)
			}
		})
	}
}

// endedLine is the first log line in which instance's job started its cloud
// job or ended.
func endedLine(logs, instance string) string {
	for _, l := range strings.Split(logs, "\n") {
		var rec struct {
			Msg      string `json:"msg"`
			Instance string `json:"instance"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil || rec.Instance != instance {
			continue
		}
		if rec.Msg == "cloud job started" || rec.Msg == "job finished" {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
