package chatops_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/internal/clocktest"
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
