package flow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

var nightlyTargets = []Target{
	{InstanceID: "cdb-c1nl9rpv"}, {InstanceID: "mssql-njj2mtpl"}, {InstanceID: "cmgo-ayxpky6l"},
	{InstanceID: "d8e6ca5a624745bcb546a227aa3ae1cfin01"},
}

func throttled() error {
	return apierr.New(apierr.Tencent, "cdb", "CreateBackup", "RequestLimitExceeded", "slow down", "req-t", 0, nil)
}

func TestNightly_OneOutcomePerJob(t *testing.T) {
	tests := []struct {
		name     string
		dupEvery int
		prep     func(*harness)
		want     Result
		starts   int
	}{
		{name: "clean run", want: Succeeded, starts: 4},
		{name: "every delivery duplicated", dupEvery: 1, want: Succeeded, starts: 4},
		{name: "every third delivery duplicated", dupEvery: 3, want: Succeeded, starts: 4},
		{name: "throttled creates retry later", prep: func(h *harness) {
			h.prov.startErrs = []error{throttled(), throttled(), throttled()}
		}, want: Succeeded, starts: 4},
		{name: "jobs fail in the cloud", prep: func(h *harness) { h.prov.failJobs = true }, want: Failed, starts: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Targets: nightlyTargets})
			h.dupEvery = tt.dupEvery
			if tt.prep != nil {
				tt.prep(h)
			}
			rep, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{})
			if err != nil {
				t.Fatalf("Nightly: %v", err)
			}
			if len(rep.Jobs) != 4 {
				t.Fatalf("Nightly fanned out %d jobs; want 4", len(rep.Jobs))
			}
			h.run()
			if h.prov.starts != tt.starts {
				t.Errorf("cloud jobs started = %d; want %d", h.prov.starts, tt.starts)
			}
			outs := h.notes.outcomes()
			for _, id := range rep.Jobs {
				if got := len(outs[id]); got != 1 {
					t.Errorf("job %s notified %d times; want exactly 1", id, got)
					continue
				}
				if got := outs[id][0].Result; got != tt.want {
					t.Errorf("job %s result = %s; want %s", id, got, tt.want)
				}
			}
			if got := len(h.notes.summaries()); got != 1 {
				t.Errorf("run summaries = %d; want 1", got)
			}
		})
	}
}

func TestNightly_SpreadsCreatesWithinRateLimits(t *testing.T) {
	var targets []Target
	for i := range 12 {
		targets = append(targets, Target{InstanceID: "cdb-" + string(rune('a'+i)) + "0000000"})
	}
	h := newHarness(t, Config{Targets: targets})
	if _, err := h.svc.Nightly(context.Background(), h.clk.Now(), Selection{}); err != nil {
		t.Fatal(err)
	}
	perSecond := map[time.Duration]int{}
	for _, d := range h.work.delay {
		perSecond[d]++
	}
	for d, n := range perSecond {
		if n > 5 {
			t.Errorf("%d cdb creates due at +%s; the published limit is 5/s", n, d)
		}
	}
	if got, want := h.work.delay[len(h.work.delay)-1], 2*time.Second; got != want {
		t.Errorf("last create due at +%s; want +%s (12 creates at 5/s)", got, want)
	}
}

func TestNightly_SelectionAndTimerTwice(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets})
	sel, err := ParseSelection(`{"targets":["cdb-c1nl9rpv"]}`)
	if err != nil {
		t.Fatal(err)
	}
	at := h.clk.Now()
	r1, _ := h.svc.Nightly(context.Background(), at, sel)
	r2, _ := h.svc.Nightly(context.Background(), at.Add(20*time.Second), sel) // same minute: same slot
	if len(r1.Jobs) != 1 || r1.Jobs[0] != r2.Jobs[0] {
		t.Fatalf("jobs = %v and %v; want the same single job", r1.Jobs, r2.Jobs)
	}
	h.run()
	if h.prov.starts != 1 {
		t.Errorf("starts = %d; want 1", h.prov.starts)
	}
}

func TestCreate_ErrorKinds(t *testing.T) {
	perm := apierr.New(apierr.Tencent, "cdb", "CreateBackup", "InvalidParameter.InstanceNotFound", "no instance", "req-42", 0, nil)
	ambiguous := apierr.New(apierr.Tencent, "cdb", "CreateBackup", "InternalError", "oops", "req-9", 0, nil)
	tests := []struct {
		name      string
		errs      []error
		want      Result
		code      string
		deadCount int
	}{
		{"permanent fails now with the cloud's code", []error{perm}, Failed, "InvalidParameter.InstanceNotFound", 0},
		{"ambiguous retried after lookup", []error{ambiguous, ambiguous}, Succeeded, "", 0},
		{"many ambiguous faults are no reason to give up", repeat(ambiguous, 12), Succeeded, "", 0},
		{"nor is long throttling", repeat(throttled(), 16), Succeeded, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.prov.startErrs = tt.errs
			id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"cli", tt.name}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
			if err != nil {
				t.Fatal(err)
			}
			h.run()
			outs := h.notes.outcomes()[id]
			if len(outs) != 1 {
				t.Fatalf("outcomes = %d; want 1", len(outs))
			}
			o := outs[0]
			if o.Result != tt.want || o.Code != tt.code {
				t.Errorf("outcome = %s %q; want %s %q", o.Result, o.Code, tt.want, tt.code)
			}
			if tt.code == "InvalidParameter.InstanceNotFound" && o.RequestID != "req-42" {
				t.Errorf("request id = %q; want req-42", o.RequestID)
			}
			if h.dead.sent != tt.deadCount {
				t.Errorf("dead-lettered %d; want %d", h.dead.sent, tt.deadCount)
			}
		})
	}
}

// TestCreate_RetryBudgetIsTime: transient faults are retried for a span of
// time, not a number of tries (issue 13 item 7). A gateway outage dead-
// lettered every create in flight: ambiguous faults had 4 tries 2–8 s apart.
func TestCreate_RetryBudgetIsTime(t *testing.T) {
	ambiguous := apierr.New(apierr.Tencent, "cdb", "CreateBackup", "ClientError.NetworkError", "connection reset", "", 0, nil)
	gateway := apierr.New(apierr.Tencent, "cdb", "CreateBackup", "ClientError.ParseJsonError", "<html>503</html>", "", 503, nil)
	tests := []struct {
		name   string
		cfg    Config
		err    error
		outage time.Duration
		want   Result
	}{
		{"a 15 s gateway outage", Config{}, ambiguous, 15 * time.Second, Succeeded},
		{"a 5 min gateway outage", Config{}, ambiguous, 5 * time.Minute, Succeeded},
		{"an hour of 503s", Config{}, gateway, time.Hour, Succeeded},
		{"an outage past the budget", Config{RetryBudget: 30 * time.Minute}, ambiguous, time.Hour, DeadLettered},
		{"an outage past the job's deadline", Config{BackupDeadline: 20 * time.Minute}, gateway, time.Hour, DeadLettered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			h.prov.outageErr, h.prov.outageEnd = tt.err, h.clk.Now().Add(tt.outage)
			id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"cli", tt.name}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
			if err != nil {
				t.Fatal(err)
			}
			start := h.clk.Now()
			h.run()
			outs := h.notes.outcomes()[id]
			if len(outs) != 1 {
				t.Fatalf("outcomes = %d; want 1", len(outs))
			}
			if o := outs[0]; o.Result != tt.want {
				t.Fatalf("outcome = %s %q (%s); want %s", o.Result, o.Code, o.Message, tt.want)
			}
			if tt.want == DeadLettered {
				budget := tt.cfg.RetryBudget
				if tt.cfg.BackupDeadline != 0 {
					budget = tt.cfg.BackupDeadline
				}
				if gave := h.clk.Now().Sub(start); gave < budget || gave > budget+time.Minute {
					t.Errorf("gave up after %v; want the budget, %v", gave, budget)
				}
			}
			if h.prov.starts != 1 && tt.want == Succeeded {
				t.Errorf("%d backups started; want 1", h.prov.starts)
			}
		})
	}
}

func TestPoll_DeadlineEndsStuck(t *testing.T) {
	h := newHarness(t, Config{BackupDeadline: time.Hour})
	h.prov.dur = 3 * time.Hour
	id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"t"}, Op: provider.Backup, Instance: "cmgo-ayxpky6l"})
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	o := h.notes.outcomes()[id]
	if len(o) != 1 || o[0].Result != Stuck {
		t.Fatalf("outcomes = %+v; want one stuck", o)
	}
}

func TestPoll_FewChecksAndPromptDetection(t *testing.T) {
	h := newHarness(t, Config{})
	h.prov.dur = 40 * time.Minute
	id, _ := h.svc.Enqueue(context.Background(), Request{ID: []string{"a"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
	h.run()
	o := h.notes.outcomes()[id][0]
	latency := o.Finished.Sub(o.Created) - h.prov.dur
	if latency > 4*time.Minute+10*time.Second {
		t.Errorf("detected %s after the job ended; want within 10%% of 40m", latency)
	}
	// Second night: history makes the first check land near the end.
	id2, _ := h.svc.Enqueue(context.Background(), Request{ID: []string{"b"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
	h.run()
	o2 := h.notes.outcomes()[id2][0]
	if o2.Polls > 3 {
		t.Errorf("second run took %d status checks; want ≤ 3 with duration history", o2.Polls)
	}
}

func TestHandle_MalformedAndHandOffFailures(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.svc.Handle(context.Background(), []byte(`{"v":1,"step":"poll"`)); err != nil {
		t.Fatalf("malformed message: Handle = %v; want nil (dead-lettered)", err)
	}
	if h.dead.sent != 1 {
		t.Errorf("dead-lettered %d; want 1", h.dead.sent)
	}
	// A hand-off failure must leave the message for redelivery, never drop it.
	id, _ := h.svc.Enqueue(context.Background(), Request{ID: []string{"x"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
	h.poll.fail = 1
	h.run()
	if o := h.notes.outcomes()[id]; len(o) != 1 || o[0].Result != Succeeded {
		t.Fatalf("outcome after a failed hand-off = %+v; want one success", o)
	}
	if h.prov.starts != 1 {
		t.Errorf("starts = %d; want 1 (the redelivered create adopts the started job)", h.prov.starts)
	}
}

func TestUpload(t *testing.T) {
	h := newHarness(t, Config{})
	u := Upload{Platform: "cos", Bucket: "backups-1250000000", Key: "imports/mssql-rdc0gajn/orders.bak", ETag: "abc"}
	if _, err := h.svc.Upload(context.Background(), Upload{Platform: "cos", Bucket: "b", Key: "other/readme.txt", ETag: "x"}); !errors.Is(err, ErrSkipped) {
		t.Errorf("non-matching key: err = %v; want ErrSkipped", err)
	}
	h.svc.d.Objects = nil
	id, err := h.svc.Upload(context.Background(), u)
	if err != nil {
		t.Fatalf("Upload = %v", err)
	}
	if o := h.notes.outcomes()[id]; len(o) != 1 || o[0].Result != Failed {
		t.Errorf("import without an object store: outcomes %+v; want one failure", o)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	m := job.Message{JobID: job.NewID("a"), Step: job.StepCreate, Spec: provider.Spec{Op: provider.Backup, Product: provider.MySQL,
		InstanceID: "cdb-c1nl9rpv", SourceURL: "https://secret"}, Created: time.Unix(1, 0).UTC()}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := job.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.SourceURL != "" {
		t.Errorf("a presigned URL travelled in the envelope")
	}
}

func TestPoll_ThrottledStatusNeverWritesOffARunningJob(t *testing.T) {
	h := newHarness(t, Config{})
	var errs []error
	for range 30 {
		errs = append(errs, throttled())
	}
	errs = append(errs, apierr.New(apierr.Tencent, "cdb", "DescribeBackups", "InternalError", "x", "r", 0, nil))
	h.prov.statusErr = errs
	id, err := h.svc.Enqueue(context.Background(), Request{ID: []string{"p"}, Op: provider.Backup, Instance: "cdb-c1nl9rpv"})
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	o := h.notes.outcomes()[id]
	if len(o) != 1 || o[0].Result != Succeeded || h.dead.sent != 0 {
		t.Fatalf("outcomes %+v, dead-lettered %d; want one success and nothing dead-lettered", o, h.dead.sent)
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

func TestParseSelection_Strict(t *testing.T) {
	tests := []struct {
		msg  string
		want []string // nil with ok: every target
		ok   bool
	}{
		{"", nil, true},
		{"  ", nil, true},
		{`{"targets":["cdb-c1nl9rpv","mssql-njj2mtpl"]}`, []string{"cdb-c1nl9rpv", "mssql-njj2mtpl"}, true},
		{`{"target":["cdb-c1nl9rpv"]}`, nil, false}, // the typo must not run over everything
		{`{"targets":["cdb-c1nl9rpv"],"all":true}`, nil, false},
		{`{}`, nil, false},
		{`{"targets":[]}`, nil, false},
		{`{"targets":null}`, nil, false},
		{`{"targets":[""]}`, nil, false},
		{`{"targets":[1]}`, nil, false},
		{`{"targets":["a"]}{}`, nil, false},
		{`{"targets":["a"]}}`, nil, false},
		{"nightly", nil, false},
		{"drain", nil, false}, // a drain timer is told apart before any selection is read
		{"{", nil, false},
	}
	for _, tt := range tests {
		sel, err := ParseSelection(tt.msg)
		if (err == nil) != tt.ok || !slices.Equal(sel.Targets, tt.want) {
			t.Errorf("ParseSelection(%q) = %v, %v; want %v, ok=%v", tt.msg, sel.Targets, err, tt.want, tt.ok)
		}
	}
}

// TestNightly_RetrySendsOnlyWhatIsMissing: a fan-out whose send failed
// fails the invocation and the platform retries it. The retry sent every
// job again: at 10,000 instances and 10 % queue faults some send fails its
// three tries in every invocation, so each retry resent 10,000 messages and
// failed again (TestNightlyFanOutRidesOutTransientFaults: 299 messages for
// 150 jobs). A job whose open record exists was handed off — the record is
// written after the send — so the retry sends only the rest.
func TestNightly_RetrySendsOnlyWhatIsMissing(t *testing.T) {
	h := newHarness(t, Config{Targets: nightlyTargets})
	at := h.clk.Now()
	h.work.fail = 1 // the first target's send (a plain error: permanent, not tried again)
	if _, err := h.svc.Nightly(context.Background(), at, Selection{}); err == nil {
		t.Fatal("a fan-out with a lost send succeeded")
	}
	if h.work.sent != len(nightlyTargets)-1 {
		t.Fatalf("first try sent %d; want %d", h.work.sent, len(nightlyTargets)-1)
	}
	r, err := h.svc.Nightly(context.Background(), at, Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if h.work.sent != len(nightlyTargets) {
		t.Errorf("after the retry %d sends; want %d, one per job", h.work.sent, len(nightlyTargets))
	}
	if len(r.Jobs) != len(nightlyTargets) {
		t.Errorf("the retry reports %d jobs; want all %d", len(r.Jobs), len(nightlyTargets))
	}
	h.run()
	if h.prov.starts != len(nightlyTargets) {
		t.Errorf("starts = %d; want %d", h.prov.starts, len(nightlyTargets))
	}
}
