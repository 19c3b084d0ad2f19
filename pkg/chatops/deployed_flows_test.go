package chatops_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator/feishuemu"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
	"github.com/backupflow/backupflow/pkg/provider"
)

var jobRE = regexp.MustCompile(`queued as job ([a-z0-9-]+)`)

func slackEnv(extra ...string) map[string]string {
	env := map[string]string{"BACKUPFLOW_SLACK_SIGNING_SECRET": chatopstest.SlackSigningSecret}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func (d *deployed) slack(m chatopstest.Message) string {
	d.t.Helper()
	rec := d.serve(chatopstest.Slack(m, d.clock.Now()))
	if rec.Code != 200 {
		d.t.Fatalf("slack %q: status %d %s", m.Text, rec.Code, rec.Body)
	}
	var f fixture
	f.t = d.t
	return jsonText("text")(&f, rec)
}

// queued returns the job named in an acknowledgement and its ledger record.
func (d *deployed) queued(ack string) (string, provider.Spec) {
	d.t.Helper()
	m := jobRE.FindStringSubmatch(ack)
	if m == nil {
		d.t.Fatalf("answer %q names no queued job", ack)
	}
	st, _, err := d.app.Service.State(context.Background(), m[1])
	if err != nil {
		d.t.Fatalf("job %s of %q is not in the ledger: %v", m[1], ack, err)
	}
	return m[1], st.Spec
}

// Issue 14 item 1: the confirmation's Store key holds only characters the
// deployed ledger accepts, so import → confirm queues the import.
func TestDeployed_importThenConfirmQueuesTheImport(t *testing.T) {
	d := newDeployed(t, clocktest.New(now), slackEnv("BACKUPFLOW_CHAT_IMPORT_USERS", "slack:"+chatopstest.User))
	prompt := d.slack(chatopstest.Message{ID: "imp-1", Text: "import cos://backups-1250000000/orders.bak to mssql-njj2mtpl"})
	m := codeRE.FindStringSubmatch(prompt)
	if m == nil {
		t.Fatalf("import answered %q; want a confirmation code (log: %s)", prompt, d.logs)
	}
	ack := d.slack(chatopstest.Message{ID: "conf-1", Text: "confirm " + m[1]})
	_, spec := d.queued(ack)
	if spec.Op != provider.Import || spec.InstanceID != "mssql-njj2mtpl" {
		t.Errorf("queued %+v; want the import into mssql-njj2mtpl", spec)
	}
	if strings.Contains(d.logs.String(), "control character") {
		t.Errorf("the ledger refused a key: %s", d.logs)
	}
}

// cmqSend reports whether r sends a CMQ message (API 3.0 or data plane).
func cmqSend(r *http.Request) bool {
	if r.Header.Get("X-TC-Action") == "SendCmqMsg" {
		return true
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	q, _ := url.ParseQuery(string(b))
	return q.Get("Action") == "SendMessage"
}

// breakSends fails the first n queue sends with a 502; when land is set the
// send reaches the queue first (a timeout after the message landed).
func breakSends(n int, land bool) func(http.Handler) http.Handler {
	var mu sync.Mutex
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			broken := n > 0 && cmqSend(r)
			if broken {
				n--
			}
			mu.Unlock()
			if !broken {
				next.ServeHTTP(w, r)
				return
			}
			if land {
				next.ServeHTTP(httptest.NewRecorder(), r)
			}
			http.Error(w, "bad gateway", http.StatusBadGateway)
		})
	}
}

// Issue 13 item 5: the first delivery claimed the message and its Enqueue
// failed; the platform's resend must queue the job, not answer "queued"
// over nothing.
func TestDeployed_resendAfterFailedEnqueueQueuesTheJob(t *testing.T) {
	d := newDeployedBehind(t, clocktest.New(now), slackEnv("BACKUPFLOW_CHAT_BACKUP_USERS", "slack:"+chatopstest.User), breakSends(1, false))
	m := chatopstest.Message{ID: "lost-1", Text: "backup cdb-c1nl9rpv"}
	first := d.slack(m)
	if strings.Contains(first, "queued as job") {
		t.Fatalf("first answer %q claims a job although its send failed", first)
	}
	ack := d.slack(m)
	if _, spec := d.queued(ack); spec.InstanceID != "cdb-c1nl9rpv" {
		t.Errorf("resend queued %+v; want the backup of cdb-c1nl9rpv", spec)
	}
}

// Issue 13 item 5: an Enqueue that failed after its message landed must not
// lead the user into a second job: the answer names the job to check, and
// that job is known.
func TestDeployed_enqueueThatLandedNamesItsJob(t *testing.T) {
	d := newDeployedBehind(t, clocktest.New(now), slackEnv("BACKUPFLOW_CHAT_BACKUP_USERS", "slack:"+chatopstest.User), breakSends(1, true))
	first := d.slack(chatopstest.Message{ID: "late-1", Text: "backup cdb-c1nl9rpv"})
	m := regexp.MustCompile("`status ([a-z0-9-]+)`").FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("answer %q names no job to check", first)
	}
	if strings.Contains(first, "send the command again in a minute") {
		t.Errorf("answer %q tells the user to start a second job", first)
	}
	// A minute later the deployed drain has taken the message that landed.
	f, _ := app.Lookup(app.CreateBackup)
	drain, err := f.Handler(d.app, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drain(context.Background(), []byte(`{"Type":"Timer","TriggerName":"drain","Message":"drain"}`)); err != nil {
		t.Fatalf("drain: %v", err)
	}
	st := d.slack(chatopstest.Message{ID: "late-2", Text: "status " + m[1]})
	if strings.Contains(st, "No job") || !strings.Contains(st, m[1]) {
		t.Errorf("status of the landed job = %q; want it known", st)
	}
}

// Issue 14 item 5: a message id reused with another command is refused; it
// never answers with a job line naming the new text's instance.
func TestDeployed_reusedMessageIDIsRefused(t *testing.T) {
	d := newDeployed(t, clocktest.New(now), slackEnv("BACKUPFLOW_CHAT_BACKUP_USERS", "slack:"+chatopstest.User))
	ack := d.slack(chatopstest.Message{ID: "same", Text: "backup cdb-c1nl9rpv"})
	job, _ := d.queued(ack)
	again := d.slack(chatopstest.Message{ID: "same", Text: "backup mssql-njj2mtpl"})
	if strings.Contains(again, "mssql-njj2mtpl queued") || !strings.Contains(again, "cdb-c1nl9rpv") {
		t.Errorf("reused id answered %q; want a refusal naming the first command (job %s)", again, job)
	}
	if _, _, err := d.app.Service.State(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if same := d.slack(chatopstest.Message{ID: "same", Text: "backup cdb-c1nl9rpv"}); same != ack {
		t.Errorf("identical resend answered %q; want %q", same, ack)
	}
}

func feishuEnv(secret string) map[string]string {
	return map[string]string{
		"BACKUPFLOW_FEISHU_ENCRYPT_KEY":        chatopstest.FeishuEncryptKey,
		"BACKUPFLOW_FEISHU_VERIFICATION_TOKEN": chatopstest.FeishuVerificationToken,
		"BACKUPFLOW_FEISHU_APP_ID":             chatopstest.FeishuAppID,
		"BACKUPFLOW_FEISHU_APP_SECRET":         secret,
		"BACKUPFLOW_CHAT_BACKUP_USERS":         "feishu:" + chatopstest.User,
	}
}

// Issue 14 item 2 (Feishu): the deployed handler answers a Feishu user as a
// reply to the command's message through the IM API, with one tenant token
// fetched from the app's id and secret and reused.
func TestDeployed_feishuAnswersByReplyAPI(t *testing.T) {
	clock := clocktest.New(now)
	d := newDeployed(t, clock, feishuEnv(feishuemu.DefaultAppSecret))
	for i, text := range []string{"help", "backup cdb-c1nl9rpv"} {
		id := "fs-" + strconv.Itoa(i)
		if rec := d.serve(chatopstest.Feishu(chatopstest.Message{ID: id, Text: text}, clock.Now())); rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d %s", text, rec.Code, rec.Body)
		}
		got := d.emu.Feishu.Replies()
		if len(got) != i+1 || got[i].MessageID != "om_"+id {
			t.Fatalf("replies %+v; want one to om_%s", got, id)
		}
	}
	got := d.emu.Feishu.Replies()
	if !strings.Contains(got[0].Text, "Commands:") {
		t.Errorf("help answered %q", got[0].Text)
	}
	if _, spec := d.queued(got[1].Text); spec.InstanceID != "cdb-c1nl9rpv" {
		t.Errorf("backup answered %q; want the job", got[1].Text)
	}
	if n := d.emu.Feishu.TokensIssued(); n != 1 {
		t.Errorf("%d tenant tokens fetched for two answers; want 1, cached", n)
	}
}

// A wrong app secret gets no token, so nothing is posted, and the failure
// is logged without the secret.
func TestDeployed_feishuWrongSecretIsLogged(t *testing.T) {
	d := newDeployed(t, clocktest.New(now), feishuEnv("not-the-secret"))
	if rec := d.serve(chatopstest.Feishu(chatopstest.Message{ID: "fs-x", Text: "help"}, now)); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if n := len(d.emu.Feishu.Replies()); n != 0 {
		t.Errorf("%d replies with a wrong secret", n)
	}
	if !strings.Contains(d.logs.String(), "10014") || strings.Contains(d.logs.String(), "not-the-secret") {
		t.Errorf("log does not name the refusal, or leaks the secret: %s", d.logs)
	}
}

// Issue 16: `status` of a job the ledger does not hold says so in words
// that name the job, never an empty or internal answer; an instance with
// no jobs says that instead.
func TestDeployed_statusOfUnknownJob(t *testing.T) {
	d := newDeployed(t, clocktest.New(now), slackEnv("BACKUPFLOW_CHAT_BACKUP_USERS", "slack:"+chatopstest.User))
	for i, tc := range []struct{ text, want string }{
		{"status jnosuchjob0000000000", "No job jnosuchjob0000000000 is known."},
		{"status slack-0123456789abcdef", "No job slack-0123456789abcdef is known."},
		{"status cdb-c1nl9rpv", "No jobs recorded for cdb-c1nl9rpv."},
	} {
		if got := d.slack(chatopstest.Message{ID: "st-" + strconv.Itoa(i), Text: tc.text}); !strings.Contains(got, tc.want) {
			t.Errorf("%s answered %q; want %q", tc.text, got, tc.want)
		}
	}
}
