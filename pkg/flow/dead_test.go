package flow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// deadLettered runs one CLI backup through an outage longer than the retry
// budget, so it ends dead-lettered, and returns its job id.
func deadLettered(t *testing.T, h *harness) string {
	t.Helper()
	h.prov.outageErr, h.prov.outageEnd = throttled(), h.clk.Now().Add(3*time.Hour)
	id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"cli", "dead"}, Op: provider.Backup,
		Instance: "cdb-c1nl9rpv", Origin: job.Origin{Source: "cli"}})
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	if _, o, err := h.svc.State(context.Background(), id); err != nil || o == nil || o.Result != DeadLettered {
		t.Fatalf("job %s: outcome %+v, %v; want dead-lettered", id, o, err)
	}
	return id
}

func TestDead_ListReplayDrop(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{RetryBudget: 10 * time.Minute})
	id := deadLettered(t, h)
	dl, err := h.svc.DeadLetters(ctx)
	if err != nil || len(dl) != 1 {
		t.Fatalf("DeadLetters = %+v, %v; want one", dl, err)
	}
	d := dl[0]
	if d.JobID != id || d.What != "backup cdb-c1nl9rpv" || d.Tries < 2 || d.When.IsZero() || d.Step != job.StepCreate {
		t.Errorf("dead letter = %+v; want job %s, what, tries, when and step", d, id)
	}
	if d.Why == "" {
		t.Errorf("dead letter has no reason")
	}
	if h.dead.sent != 1 {
		t.Errorf("dead-letter queue got %d messages; want 1", h.dead.sent)
	}

	if text, err := h.svc.DeadText(ctx, 5); err != nil || !strings.Contains(text, "1 dead letter(s) waiting") ||
		!strings.Contains(text, id+" backup cdb-c1nl9rpv") {
		t.Errorf("DeadText = %q, %v; want the one waiting", text, err)
	}
	// The outage is over: the replay reaches an outcome, exactly once.
	h.clk.Advance(4 * time.Hour)
	r, err := h.svc.ReplayDead(ctx, id)
	if err != nil || r.Status != Replayed || r.JobID != ReplayID(id) {
		t.Fatalf("ReplayDead = %+v, %v; want replayed as %s", r, err, ReplayID(id))
	}
	// Replayed again before it ran (a retried command): nothing more is sent.
	sent := h.work.sent
	if r, err := h.svc.ReplayDead(ctx, id); err != nil || r.Status != AlreadyReplayed {
		t.Errorf("second ReplayDead = %+v, %v; want already replayed", r, err)
	}
	if h.work.sent != sent {
		t.Errorf("a second replay sent %d messages; want none", h.work.sent-sent)
	}
	h.run()
	_, o, err := h.svc.State(ctx, r.JobID)
	if err != nil || o == nil || o.Result != Succeeded || o.Origin.ReplayOf != id {
		t.Fatalf("replay %s: outcome %+v, %v; want succeeded, replaying %s", r.JobID, o, err, id)
	}
	if n := len(h.notes.outcomes()[r.JobID]); n != 1 {
		t.Errorf("replay notified %d times; want once", n)
	}
	if h.prov.starts != 1 {
		t.Errorf("cloud backups started: %d; want 1", h.prov.starts)
	}
	// After its outcome: a replay does nothing.
	sent = h.work.sent
	if r, err := h.svc.ReplayDead(ctx, id); err != nil || r.Status != AlreadyReplayed || r.State != string(Succeeded) {
		t.Errorf("ReplayDead after the outcome = %+v, %v; want already replayed, succeeded", r, err)
	}
	if h.work.sent != sent || len(h.notes.outcomes()[r.JobID]) != 1 {
		t.Errorf("a replay after the outcome sent or notified again")
	}
	if dl, _ := h.svc.DeadLetters(ctx); len(dl) != 1 || dl[0].ReplayedAs != r.JobID {
		t.Errorf("dead letters after the replay = %+v; want the one, marked replayed as %s", dl, r.JobID)
	}
	if n := h.svc.deadWaiting(ctx); n != 0 {
		t.Errorf("deadWaiting = %d after the replay; want 0", n)
	}
	if text, _ := h.svc.DeadText(ctx, 5); !strings.HasPrefix(text, "No dead letters") {
		t.Errorf("DeadText after the replay = %q; want none waiting", text)
	}

	if err := h.svc.DropDead(ctx, id); err != nil {
		t.Fatal(err)
	}
	if dl, _ := h.svc.DeadLetters(ctx); len(dl) != 0 {
		t.Errorf("dead letters after drop = %+v; want none", dl)
	}
	if err := h.svc.DropDead(ctx, id); !errors.Is(err, ErrNoDeadLetter) {
		t.Errorf("second DropDead = %v; want ErrNoDeadLetter", err)
	}
	if _, err := h.svc.ReplayDead(ctx, id); !errors.Is(err, ErrNoDeadLetter) {
		t.Errorf("ReplayDead after drop = %v; want ErrNoDeadLetter", err)
	}
}

// A create that started the cloud job and then was given up on: the replay
// adopts that backup (same name) instead of starting a second.
func TestDead_ReplayAdoptsWhatTheDeadJobStarted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{RetryBudget: 10 * time.Minute})
	id := deadLettered(t, h)
	h.clk.Advance(4 * time.Hour)
	// The backup the given-up job did start (a lost answer) is in the cloud.
	if _, err := h.prov.Start(ctx, provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: job.Name(id)}); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.ReplayDead(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	if _, o, _ := h.svc.State(ctx, r.JobID); o == nil || o.Result != Succeeded {
		t.Fatalf("replay outcome %+v; want succeeded", o)
	}
	if h.prov.starts != 1 {
		t.Errorf("cloud backups started: %d; want 1 (adopted)", h.prov.starts)
	}
}

// A job whose message was given up on but which has another outcome (a
// concurrent delivery finished it) is not replayed.
func TestDead_ReplayOfAJobWithAnOutcomeDoesNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{RetryBudget: 10 * time.Minute})
	id := deadLettered(t, h)
	if err := h.ledger.Put(ctx, keyOutcome(id), []byte(`{"job":"`+id+`","result":"succeeded"}`)); err != nil {
		t.Fatal(err)
	}
	sent := h.work.sent
	r, err := h.svc.ReplayDead(ctx, id)
	if err != nil || r.Status != HasOutcome || r.State != string(Succeeded) {
		t.Errorf("ReplayDead = %+v, %v; want has an outcome (succeeded)", r, err)
	}
	if h.work.sent != sent {
		t.Errorf("sent %d messages; want none", h.work.sent-sent)
	}
}

func TestDead_UndecodableIsListedNotReplayed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{})
	if err := h.svc.Handle(ctx, []byte("not a message")); err != nil {
		t.Fatal(err)
	}
	dl, err := h.svc.DeadLetters(ctx)
	if err != nil || len(dl) != 1 || dl[0].Raw != "not a message" {
		t.Fatalf("DeadLetters = %+v, %v; want the undecodable one", dl, err)
	}
	if _, err := h.svc.ReplayDead(ctx, dl[0].JobID); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("ReplayDead(undecodable) = %v; want invalid input", err)
	}
	if err := h.svc.DropDead(ctx, dl[0].JobID); err != nil {
		t.Errorf("DropDead(undecodable) = %v", err)
	}
}

// The nightly summary counts the dead letters still waiting.
func TestDead_SummaryCountsWaiting(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets[:1], RetryBudget: 10 * time.Minute})
	h.prov.outageErr, h.prov.outageEnd = throttled(), h.clk.Now().Add(3*time.Hour)
	if _, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	h.run()
	sums := h.notes.summaries()
	if len(sums) != 1 || sums[0].DeadWaiting != 1 || sums[0].Counts()[DeadLettered] != 1 {
		t.Fatalf("summaries = %+v; want one counting 1 dead-lettered, 1 waiting", sums)
	}
}

// A chat job's reply handle is a credential: the dead-letter record that
// `backupflow dead list --json` prints, and the dead queue's copy, leave it
// out, while the result still goes to the conversation through it.
func TestDead_recordLeavesOutTheReplyHandle(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{RetryBudget: 10 * time.Minute})
	h.prov.outageErr, h.prov.outageEnd = throttled(), h.clk.Now().Add(3*time.Hour)
	const handle = "https://hooks.slack.com/commands/T0/1/handle-token-0001"
	id, err := h.svc.Enqueue(ctx, Request{JobID: "slack-dead-reply", Op: provider.Backup, Instance: "cdb-c1nl9rpv",
		Origin: job.Origin{Source: "chat", Platform: "slack", User: "u1", Reply: handle, ReplyExpires: h.clk.Now().Add(30 * time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	dl, err := h.svc.DeadLetters(ctx)
	if err != nil || len(dl) != 1 {
		t.Fatalf("DeadLetters = %+v, %v; want one", dl, err)
	}
	b, _ := json.Marshal(dl[0])
	if strings.Contains(string(b), "handle-token-0001") {
		t.Errorf("dead-letter record holds the reply handle: %s", b)
	}
	for _, m := range h.dead.msgs {
		if strings.Contains(string(m.body), "handle-token-0001") {
			t.Errorf("dead queue copy holds the reply handle: %s", m.body)
		}
	}
	if o := h.notes.outcomes()[id]; len(o) != 1 || o[0].Origin.Reply != handle {
		t.Errorf("notified %+v; want one outcome still carrying the handle", o)
	}
}

// A poison message given up on after its receives is listed with them.
func TestDead_PoisonMessageIsListed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{})
	m := job.Message{V: job.Version, JobID: "jpoison0000000000001", Step: job.StepCreate, Created: h.clk.Now(),
		Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: "cdb-c1nl9rpv", Name: job.Name("jpoison0000000000001")}}
	body, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.GiveUp(ctx, body, 11); err != nil {
		t.Fatal(err)
	}
	dl, err := h.svc.DeadLetters(ctx)
	if err != nil || len(dl) != 1 || dl[0].JobID != m.JobID || dl[0].Tries != 11 || !strings.Contains(dl[0].Why, "received 11 times") {
		t.Fatalf("DeadLetters = %+v, %v; want the poison message with 11 tries", dl, err)
	}
}
