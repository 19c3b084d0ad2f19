package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/reportlink"
)

var reportField = regexp.MustCompile(`Report: (\S+)`)

// The nightly summary links its run's report page, and the deployed
// chatops function (chatapp.Handler, from the environment) serves it over
// HTTP to that link only: the page as report --html draws it, one bar per
// job; the link with another run, another expiry or a broken signature,
// one signed with another secret, an expired one and none at all are 403.
func TestEndToEnd_SummaryLinksTheSignedReport(t *testing.T) {
	const secret = "e2e-report-secret-0123456789"
	var chat http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { chat.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	s := newStack(t, emulator.Options{}, map[string]string{
		"BACKUPFLOW_SLACK_SIGNING_SECRET": chatopstest.SlackSigningSecret,
		"BACKUPFLOW_REPORT_URL":           srv.URL + "/release/report", "BACKUPFLOW_REPORT_SECRET": secret,
	})
	h, err := chatapp.Handler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	chat = h
	timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
	run := "nightly-" + job.Slot(s.clk.Now())
	s.invoke(s.create, timer)
	s.runFor(3*time.Hour, func() bool { return reportField.MatchString(s.out.String()) })
	m := reportField.FindStringSubmatch(s.out.String())
	link, err := url.Parse(m[1])
	if err != nil || link.Query().Get("run") != run || !strings.HasPrefix(m[1], srv.URL+"/release/report?") {
		t.Fatalf("summary's report link %q (%v); want one for %s at BACKUPFLOW_REPORT_URL", m[1], err, run)
	}
	v, err := s.app.Service.RunView(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	want, err := v.HTML()
	if err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(link.String()); code != http.StatusOK || body != string(want) || strings.Count(body, "data-job=") != len(v.Jobs) {
		t.Errorf("GET the summary's link = %d, %d bytes; want 200 and the run's page (%d bytes, %d bars)", code, len(body), len(want), len(v.Jobs))
	}
	with := func(k, val string) string {
		q := link.Query()
		if val == "" {
			q.Del(k)
		} else {
			q.Set(k, val)
		}
		u := *link
		u.RawQuery = q.Encode()
		return u.String()
	}
	base := srv.URL + "/release/report"
	for name, u := range map[string]string{
		"another run":        with("run", "nightly-20200101T0100Z"),
		"a later expiry":     with("exp", "4102444800"),
		"a broken signature": with("sig", strings.Repeat("ab", 32)),
		"no signature":       with("sig", ""),
		"another secret":     reportlink.Link([]byte("another-secret-0123456789"), base, run, time.Now().Add(time.Hour)),
		"expired":            reportlink.Link([]byte(secret), base, run, time.Now().Add(-time.Minute)),
		"no link at all":     base,
	} {
		if code, body := get(u); code != http.StatusForbidden || strings.Contains(body, "data-job") {
			t.Errorf("%s: GET = %d; want 403 and no page", name, code)
		}
	}
	// The chat platforms still answer beside it.
	rec := httptest.NewRecorder()
	chat.ServeHTTP(rec, chatopstest.Slack(chatopstest.Message{ID: "after-report", Text: "help"}, time.Now()))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "backup") {
		t.Errorf("slack help beside the report page = %d %s", rec.Code, rec.Body)
	}
}
