package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/notify"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
)

// The crash soak's hooks, as pkg/app names them in crashtest builds.
const (
	crashAfterEnv  = "BACKUPFLOW_CRASH_AFTER"
	crashClockEnv  = "BACKUPFLOW_CRASH_CLOCK"
	exchangeHeader = "X-Crashtest-Exchange"
)

// crashSoakSize is the number of jobs: 60 in `make test`, 1,000 with
// BACKUPFLOW_SOAK=long (`make soak`).
func crashSoakSize() int {
	if os.Getenv("BACKUPFLOW_SOAK") == "long" {
		return 1000
	}
	return 60
}

// crashSeed is the soak's seed; BACKUPFLOW_SOAK_SEED replays another.
func crashSeed(t *testing.T) uint64 {
	seed := uint64(20261203)
	if v := os.Getenv("BACKUPFLOW_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("BACKUPFLOW_SOAK_SEED=%q is not a number", v)
		}
		seed = n
	}
	return seed
}

// fileClock is wall time plus an offset the test moves forward. The offset
// is mirrored in a file that every crashtest function process reads on each
// clock call, so emulator and processes share one virtual time and idle
// waits (poll delays, visibility timeouts, leases) cost no wall time.
type fileClock struct {
	path string
	off  atomic.Int64
}

func newFileClock(t *testing.T) *fileClock {
	c := &fileClock{path: filepath.Join(t.TempDir(), "clock")}
	c.write()
	return c
}

func (c *fileClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *fileClock) Advance(d time.Duration) {
	c.off.Add(int64(d))
	c.write()
}

func (c *fileClock) write() {
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(c.off.Load(), 10)), 0o600); err != nil {
		panic(err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		panic(err)
	}
}

// exchanges is the far side of every function process's HTTP traffic: the
// emulator and the notification receiver behind one server that notes
// what each tagged exchange was, so a kill can be matched to the effect it
// followed.
type exchanges struct {
	mu    sync.Mutex
	kinds map[string]string // "<pid>.<n>" -> kind
	last  map[int]int64     // pid -> highest exchange seen
	// writes holds, per pid, the path of every object write that arrived
	// whole, so a repeated notification can be matched to the marker its
	// sender did or did not write.
	writes map[int][]string
	notes  []notification
}

type notification struct {
	p        notify.WebhookPayload
	exchange string
}

func newExchanges() *exchanges {
	return &exchanges{kinds: map[string]string{}, last: map[int]int64{}, writes: map[int][]string{}}
}

func (x *exchanges) handler(emu http.Handler, secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		tag := r.Header.Get(exchangeHeader)
		pidText, nText, _ := strings.Cut(tag, ".")
		pid, _ := strconv.Atoi(pidText)
		n, _ := strconv.ParseInt(nText, 10, 64)
		if err != nil {
			// The sender died part-way through its request (another of
			// its workers' exchanges hit the kill budget). A server never
			// acts on a request body cut short — COS refuses an upload
			// shorter than its Content-Length — so neither does this one.
			// Forwarding the part that came filed an empty outcome record.
			// The exchange still counts as seen: it went out.
			if tag != "" {
				x.mu.Lock()
				x.kinds[tag] = "torn"
				x.last[pid] = max(x.last[pid], n)
				x.mu.Unlock()
			}
			http.Error(w, "request body cut short: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		kind := exchangeKind(r, body)
		if tag != "" {
			x.mu.Lock()
			x.kinds[tag] = kind
			x.last[pid] = max(x.last[pid], n)
			if kind == "cos write" {
				x.writes[pid] = append(x.writes[pid], r.URL.Path)
			}
			x.mu.Unlock()
		}
		if kind != "notification" {
			emu.ServeHTTP(w, r)
			return
		}
		if sig := r.Header.Get(notify.SignatureHeader); sig != notify.WebhookSignature(secret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "not the webhook payload", http.StatusBadRequest)
			return
		}
		x.mu.Lock()
		x.notes = append(x.notes, notification{p: p, exchange: tag})
		x.mu.Unlock()
	})
}

// exchangeKind names the effect a request is: a cloud API call, a COS
// (ledger or object) read or write, a queue send, receive or delete, or a
// notification.
func exchangeKind(r *http.Request, body []byte) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/hook/"):
		return "notification"
	case r.Header.Get("X-TC-Action") == "SendCmqMsg":
		// The CMQ driver sends through TDMQ's API 3.0 action (and
		// receives and deletes through the queue's own API, below).
		return "queue send"
	case r.Header.Get("X-TC-Action") != "":
		return "cloud " + r.Header.Get("X-TC-Action")
	case strings.HasPrefix(r.Header.Get("Authorization"), "q-sign-algorithm"):
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return "cos read"
		}
		return "cos write"
	}
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	if action == "" {
		action = r.URL.Query().Get("Action")
	}
	switch action {
	case "SendMessage", "BatchSendMessage", "PublishMessage", "BatchPublishMessage":
		return "queue send"
	case "ReceiveMessage", "BatchReceiveMessage":
		return "queue receive"
	case "DeleteMessage", "BatchDeleteMessage":
		return "queue delete"
	}
	return "other " + r.Method + " " + action
}

func (x *exchanges) kindOf(pid int, n int64) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.kinds[fmt.Sprintf("%d.%d", pid, n)]
}

func (x *exchanges) lastOf(pid int) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.last[pid]
}

// writtenBy reports the object paths pid wrote whole.
func (x *exchanges) writtenBy(pid int) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.writes[pid])
}

// unexcusedCopies returns the copies of one job's notification that the
// job's protocol does not explain. The sender notifies and then marks the
// job notified (jobs/<id>/notified; runs/<run>/summary-sent for a night's
// summary), and whoever finds no mark sends again. So every copy but the
// last must come from an instance killed in the invocation that sent it
// (killedIn holds, per killed pid, how many exchanges it had made before
// that invocation) that never wrote the mark: a sender cannot know that a receiver took a message it never heard
// back about, and receivers dedupe on the payload's job id. The kill need
// not follow the notification itself: with the drain's workers, another
// worker's exchange can hit the budget while the notification is in flight
// or before its mark goes out.
func unexcusedCopies(jobID string, got []notification, killedIn map[int]int64, writtenBy func(pid int) []string) []notification {
	var bad []notification
	for _, nt := range got[:max(len(got)-1, 0)] {
		pidText, nText, _ := strings.Cut(nt.exchange, ".")
		pid, err := strconv.Atoi(pidText)
		n, nerr := strconv.ParseInt(nText, 10, 64)
		from, killed := killedIn[pid]
		marked := false
		if err == nil {
			for _, path := range writtenBy(pid) {
				if strings.Contains(path, jobID) && (strings.HasSuffix(path, "/notified") || strings.HasSuffix(path, "/summary-sent")) {
					marked = true
				}
			}
		}
		if err != nil || nerr != nil || !killed || n <= from || marked {
			bad = append(bad, nt)
		}
	}
	return bad
}

func (x *exchanges) notifications() []notification {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.notes)
}

// kill is one function instance that died at its budget.
type kill struct {
	fn    string
	pid   int
	after int64  // exchanges completed before the kill
	from  int64  // exchanges the instance had made before the invocation it died in
	kind  string // the effect it followed ("" for none)
}

// platform runs the crashtest binaries as SCF runs them: one warm instance
// per function, reused until it dies; each new instance gets a kill budget
// drawn from the seed; an invocation whose instance died is delivered
// again to a fresh one (a killed instance is a system error, which SCF
// retries until the event's retention ends), and a drain timer simply
// fires again.
type platform struct {
	t     *testing.T
	bins  map[string]string
	env   map[string]string // the function configuration, per invocation
	clock string
	clk   *fileClock
	rng   *rand.Rand
	mean  map[string]int // mean kill budget per function
	// longCall, when set, is the mean budget of instances started for one
	// long invocation (the nightly fan-out): its kill point is drawn over
	// its whole length, so it is killed anywhere in it and still, on some
	// delivery, completes — as on SCF, where a fan-out is not killed every
	// few hundred calls.
	longCall int
	live     map[string]*fnProcess
	x        *exchanges
	logs     *syncBuf
	kills    []kill
	// started counts instances; errors counts invocations that returned a
	// function error (the platform retries those too).
	started, errors int
}

func (p *platform) instance(fn string) *fnProcess {
	if pr := p.live[fn]; pr != nil {
		return pr
	}
	mean := p.mean[fn]
	if p.longCall > mean {
		mean = p.longCall
	}
	budget := p.rng.IntN(2 * mean)
	pr := startProcessEnv(p.t, p.bins[fn], []string{crashAfterEnv + "=" + strconv.Itoa(budget), crashClockEnv + "=" + p.clock}, p.logs)
	pr.budget = int64(budget)
	p.live[fn] = pr
	p.started++
	return pr
}

// attempt invokes fn once and reports whether the invocation completed.
func (p *platform) attempt(fn, event string) bool {
	t := p.t
	pr := p.instance(fn)
	// The deadline is on the shared virtual clock, as the functions read
	// it against their own clock (wall time on SCF, where both agree).
	req := pr.Request([]byte(event), p.env, time.Minute)
	dl := p.clk.Now().Add(time.Minute)
	req.Deadline = scfinvoke.Timestamp{Seconds: dl.Unix(), Nanos: int64(dl.Nanosecond())}
	req.FunctionName = fn
	from := p.x.lastOf(pr.Cmd.Process.Pid)
	reply, err := pr.Invoke(context.Background(), req)
	if err == nil {
		if reply.Error != nil {
			p.errors++
			t.Logf("%s returned an error (retried): %+v", fn, reply.Error)
			return false
		}
		return true
	}
	select {
	case <-pr.Done():
	case <-time.After(30 * time.Second): // hang guard only
		t.Fatalf("%s: invocation failed (%v) but the instance is still running\n%s", fn, err, tail(p.logs))
	}
	delete(p.live, fn)
	ws, _ := pr.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s instance ended with %v, not by its kill budget (%d)\n%s", fn, pr.Cmd.ProcessState, pr.budget, tail(p.logs))
	}
	pid := pr.Cmd.Process.Pid
	// The kill was where its budget put it: the far side saw exchange
	// number budget and nothing after it.
	if last := p.x.lastOf(pid); last != pr.budget {
		var seen []string
		for i := int64(1); i <= pr.budget; i++ {
			if p.x.kindOf(pid, i) == "" {
				seen = append(seen, strconv.FormatInt(i, 10))
			}
		}
		t.Fatalf("%s instance %d was killed after exchange %d; its budget was %d (last kinds %q)\n%s", fn, pid, last, pr.budget, seen, tail(p.logs))
	}
	p.kills = append(p.kills, kill{fn: fn, pid: pid, after: pr.budget, from: from, kind: p.x.kindOf(pid, pr.budget)})
	return false
}

// deliver invokes fn with event until one invocation completes, a minute
// apart as SCF spaces its async retries (facts/platform.md §4.2).
func (p *platform) deliver(fn, event string) {
	p.t.Helper()
	for range 100 {
		if p.attempt(fn, event) {
			return
		}
		p.clk.Advance(time.Minute)
	}
	p.t.Fatalf("%s: 100 deliveries of one event, none completed\n%s", fn, tail(p.logs))
}

func tail(b *syncBuf) string {
	s := b.String()
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return s
}

// TestCrashSoak runs nightly backups, on-demand backups and imports through
// the real SCF binaries (crashtest builds), with every instance killed at a
// point drawn from the seed: after any of its HTTP exchanges, that is
// between any two of its external effects (cloud call, ledger write, queue
// send, receive or delete, notification). The platform redelivers as SCF
// does. At the end, from the emulator's and the receiver's records and the
// ledger: every job has exactly one outcome, no backup or import was made
// twice, nothing was made that no job asked for, every notification owed
// arrived, and any second copy of one follows a kill that landed right
// after the first copy was accepted (a sender cannot know that a receiver
// took a message it never heard back about; receivers dedupe on the
// payload's job id). BACKUPFLOW_SOAK_SEED replays a seed.
//
// Huawei RDS is left out: its SDK builds its own HTTP transport, which the
// kill hook does not count (the points before and after its calls are
// still covered through the neighbouring exchanges).
func TestCrashSoak(t *testing.T) {
	b := needBinaries(t)
	seed := crashSeed(t)
	n := crashSoakSize()
	t.Logf("seed %d (BACKUPFLOW_SOAK_SEED=%d reproduces this kill schedule), %d jobs", seed, seed, n)
	began := time.Now()

	nImports := max(n/20, 2)
	nDemand := n * 3 / 20
	nNightly := n - nImports - nDemand
	set := tencentFleet(nNightly+nDemand, nNightly)
	for i := range nImports {
		set.Instances = append(set.Instances, fixture.Instance{Product: provider.SQLServer, ID: fmt.Sprintf("mssql-imp%05d", i),
			Databases: []fixture.Database{{Name: "db1"}}})
	}

	clk := newFileClock(t)
	emu, err := emulator.New(emulator.Options{Fleet: set, Now: clk.Now, JobDuration: time.Minute, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	const hookSecret = "crash-soak-webhook-secret"
	x := newExchanges()
	srv := httptest.NewServer(x.handler(emu, hookSecret))
	t.Cleanup(srv.Close)
	env := emu.Env(srv.URL)
	maps.Copy(env, emulator.CloudQueues("ledger-crash-soak"))
	env["BACKUPFLOW_PRODUCTS"] = "mysql,sqlserver,mongodb"
	env["BACKUPFLOW_NOTIFY"] = "webhook:" + srv.URL + "/hook/soak?secret=" + hookSecret
	env["BACKUPFLOW_LOG_LEVEL"] = "warn"
	if v := os.Getenv("BACKUPFLOW_SOAK_LOG"); v != "" {
		env["BACKUPFLOW_LOG_LEVEL"] = v // e.g. info, to follow a failure
	}

	// The operator's side (the CLI's enqueue, and the test's reading of
	// the ledger) runs in this process on the same clock; it is not what
	// is crashed.
	cfg, err := config.LoadFrom(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ops, err := app.Open(context.Background(), cfg, app.Options{Function: "cli", Now: clk.Now,
		Getenv: func(k string) string { return env[k] }, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuf{}
	p := &platform{t: t, bins: map[string]string{app.CreateBackup: b.create, app.StartMigration: b.mig, app.PollStatus: b.poll},
		env: env, clock: clk.path, clk: clk, rng: rand.New(rand.NewPCG(seed, 0xc4a5)), x: x, logs: logs,
		live: map[string]*fnProcess{},
		// poll-status does the most kinds of effect per message (status
		// read, outcome claim, notification, summary, delete) and holds
		// the fewest messages, so it dies most often. create-backup holds
		// up to 64 received creates while it paces them; killing it as
		// often would push healthy messages past their receive limit.
		mean: map[string]int{app.CreateBackup: 300, app.StartMigration: 12, app.PollStatus: 80}}
	t.Cleanup(func() {
		for _, pr := range p.live {
			pr.Kill()
		}
	})
	ctx := context.Background()

	// Causes. The nightly timer fires once; the platform retries it until
	// an invocation completes.
	// A fan-out makes a few exchanges per instance (discovery, the
	// encryption check, the send, its ledger records); with budgets of a
	// few hundred the 1,000-job fan-out was killed on every one of 100
	// deliveries and never completed.
	p.longCall = 4 * nNightly
	p.deliver(app.CreateBackup, `{"Type":"Timer","TriggerName":"nightly","Time":"`+clk.Now().UTC().Format(time.RFC3339)+`","Message":""}`)
	p.longCall = 0
	demand := map[string]bool{}
	for i := range nDemand {
		in := set.Instances[nNightly+i].ID
		id, err := ops.Service.Enqueue(ctx, flow.Request{ID: []string{"crash-soak", in}, Op: provider.Backup, Instance: in,
			Origin: job.Origin{Source: "cli"}})
		if err != nil {
			t.Fatal(err)
		}
		demand[id] = true
	}
	for i := range nImports {
		key := fmt.Sprintf("imports/mssql-imp%05d/night.bak", i)
		etag := fmt.Sprintf("%032x", i+1)
		if err := emu.COS.PutAs("backups-1250000000", key, append([]byte("TAPE"), make([]byte, 1020)...), etag); err != nil {
			t.Fatal(err)
		}
		for range 2 { // COS delivers at least once
			p.deliver(app.StartMigration, cosPutEvent(key, etag))
		}
	}

	// The drain timers fire until both queues are empty; when nothing is
	// visible, virtual time jumps to the next due message. Then time runs
	// on past every lease and the sweep's thresholds, and the timers fire
	// again: nothing may come back.
	busy := func() (visible, total int) {
		for _, q := range []string{"backupflow-work", "backupflow-poll"} {
			v, i, d := emu.CMQ.Stats(q)
			visible += v
			total += v + i + d
		}
		return visible, total
	}
	for round, settled := 0, 0; settled < 2; round++ {
		if round > 20000 {
			v, tot := busy()
			t.Fatalf("queues not empty after %d rounds: %d visible of %d\n%s", round, v, tot, tail(logs))
		}
		// A drain killed part-way counts for nothing: its timer fires again,
		// as SCF's does every minute, and only rounds that ran to the end
		// (the sweep included) settle the night.
		done := p.attempt(app.CreateBackup, drainTimer)
		done = p.attempt(app.PollStatus, drainTimer) && done
		vis, total := busy()
		switch {
		case total == 0 && !done:
			clk.Advance(time.Hour) // past the sweep's spacing, which the dead one reset
		case total == 0:
			settled++
			clk.Advance(time.Hour)
		case vis == 0:
			settled = 0
			if next, ok := emu.CMQ.NextDue(); ok {
				clk.Advance(next.Sub(clk.Now()) + time.Millisecond)
			}
		default:
			settled = 0
		}
	}

	// Every job has exactly one outcome: one per tagged instance for the
	// night, one per on-demand request, one per uploaded file.
	outs := crashOutcomes(t, ops)
	nightly, imports := map[string]flow.Outcome{}, map[string]flow.Outcome{}
	results := map[flow.Result]int{}
	for id, o := range outs {
		results[o.Result]++
		if o.Result == flow.DeadLettered {
			// A message received past its limit because its consumers kept
			// dying is given up on, with its reason and a notification; a
			// test of that is fine, but most jobs must get through.
			t.Logf("job %s dead-lettered: %s %s", id, o.Code, o.Message)
		}
		switch {
		case demand[id]:
		case o.Op == provider.Import:
			if _, dup := imports[o.Instance]; dup {
				t.Errorf("instance %s: two import jobs for one upload", o.Instance)
			}
			imports[o.Instance] = o
		case o.Origin.Source == "timer":
			if _, dup := nightly[o.Instance]; dup {
				t.Errorf("instance %s: two nightly jobs in one night", o.Instance)
			}
			nightly[o.Instance] = o
		default:
			t.Errorf("outcome for job %s (%+v) that nothing caused", id, o.Origin)
		}
	}
	for id := range demand {
		if _, ok := outs[id]; !ok {
			t.Errorf("on-demand job %s has no outcome: lost", id)
		}
	}
	for i, in := range set.Instances {
		switch {
		case i < nNightly:
			if _, ok := nightly[in.ID]; !ok {
				t.Errorf("tagged instance %s has no nightly outcome: lost", in.ID)
			}
		case i >= nNightly+nDemand:
			if _, ok := imports[in.ID]; !ok {
				t.Errorf("upload for %s has no import outcome: lost", in.ID)
			}
		}
	}

	// The cloud holds exactly one backup or import per job, succeeded for
	// each job that succeeded, and nothing else.
	names := map[string]flow.Outcome{}
	for id, o := range outs {
		names[o.Instance+"/"+job.Name(id)] = o
	}
	cloud := map[string][]fixture.Job{}
	for _, j := range emu.Jobs() {
		cloud[j.InstanceID+"/"+j.Name] = append(cloud[j.InstanceID+"/"+j.Name], j)
	}
	for key, jobs := range cloud {
		if _, ok := names[key]; !ok {
			t.Errorf("%s: a cloud job no job asked for", key)
		} else if len(jobs) != 1 {
			t.Errorf("%s: %d cloud jobs; want one", key, len(jobs))
		}
	}
	for key, o := range names {
		jobs := cloud[key]
		if o.Result == flow.Succeeded && (len(jobs) != 1 || jobs[0].State != provider.Succeeded) {
			t.Errorf("job %s succeeded but the cloud holds %+v", o.JobID, jobs)
		}
	}

	// Every job was closed: no hand-off record is left open.
	if open, err := ops.Ledger.List(ctx, "open/"); err != nil || len(open) != 0 {
		t.Errorf("open hand-off records after the night: %v (err %v)", open, err)
	}

	// Notifications: each on-demand job and import, and each nightly job
	// that did not succeed, once; the night's successes in one summary.
	killedAfter := map[string]bool{}
	kinds := map[string]int{}
	for _, k := range p.kills {
		killedAfter[fmt.Sprintf("%d.%d", k.pid, k.after)] = true
		kind := k.kind
		if k.after == 0 {
			kind = "nothing (before the first)"
		}
		kinds[kind]++
	}
	byJob := map[string][]notification{}
	for _, nt := range x.notifications() {
		byJob[nt.p.Job] = append(byJob[nt.p.Job], nt)
	}
	killedIn := map[int]int64{}
	for _, k := range p.kills {
		killedIn[k.pid] = k.from
	}
	resent := 0
	for jobID, got := range byJob {
		for _, nt := range unexcusedCopies(jobID, got, killedIn, x.writtenBy) {
			t.Errorf("job %s notified %d times; the copy from exchange %s is not explained by a kill of its sender before it marked the job notified (all copies %v; kills %+v)",
				jobID, len(got), nt.exchange, got, p.kills)
		}
		resent += len(got) - 1
	}
	var runs []string
	for jobID := range byJob {
		if _, ok := outs[jobID]; !ok {
			runs = append(runs, jobID)
		}
	}
	for id, o := range outs {
		want := 1
		if o.Origin.Source == "timer" && o.Result == flow.Succeeded {
			want = 0
		}
		got := byJob[id]
		if (want == 0) != (len(got) == 0) {
			t.Errorf("job %s (%s, %s): %d notifications; want %d", id, o.Origin.Source, o.Result, len(got), want)
			continue
		}
		if want == 1 {
			level := "failure"
			if o.Result == flow.Succeeded {
				level = "success"
			}
			if got[0].p.Level != level {
				t.Errorf("job %s ended %s but was notified %s %q", id, o.Result, got[0].p.Level, got[0].p.Title)
			}
		}
	}
	if len(runs) != 1 {
		var lines []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "summary") || strings.Contains(l, "open-run") || strings.Contains(l, "nightly run") || strings.Contains(l, `"msg":"sweep"`) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Fatalf("notifications for %d jobs that have no outcome (%v); want only the night's summary\nsummary log lines:\n%s\nledger:\n%s",
			len(runs), runs, strings.Join(lines, "\n"), runLedger(t, ops))
	}
	if line := strings.SplitN(byJob[runs[0]][0].p.Text, "\n", 2)[0]; !strings.HasPrefix(line, fmt.Sprintf("%d jobs: ", nNightly)) {
		t.Errorf("summary %q; want it to count the night's %d jobs", line, nNightly)
	}

	if results[flow.DeadLettered] > n/20 {
		t.Errorf("%d of %d jobs dead-lettered; the kills should mostly be recovered from", results[flow.DeadLettered], n)
	}

	// The kills really happened, between effects of every kind.
	if len(p.kills) < n/10 {
		t.Errorf("only %d instances were killed over %d jobs; the soak proves little", len(p.kills), n)
	}
	if os.Getenv("BACKUPFLOW_SOAK") == "long" {
		for _, want := range []string{"cloud ", "cos write", "queue send", "queue delete", "notification"} {
			hit := 0
			for k, c := range kinds {
				if strings.HasPrefix(k, want) {
					hit += c
				}
			}
			if hit == 0 {
				t.Errorf("no instance was killed right after a %q exchange; kills by kind: %v", want, kinds)
			}
		}
	}
	keys := slices.Sorted(maps.Keys(kinds))
	var byKind []string
	for _, k := range keys {
		byKind = append(byKind, fmt.Sprintf("%s=%d", k, kinds[k]))
	}
	t.Logf("%d jobs (%d nightly, %d on demand, %d imports) in %s wall, %s virtual; outcomes %v; %d instances started, %d killed, %d function errors; %d notifications, %d resent after a kill; kills after: %s",
		n, nNightly, nDemand, nImports, time.Since(began).Round(time.Millisecond), time.Duration(clk.off.Load()).Round(time.Second),
		results, p.started, len(p.kills), p.errors, len(x.notifications()), resent, strings.Join(byKind, ", "))
}

// runLedger describes the ledger's run records, for a soak whose summary
// never came: which runs are open, and per run the manifest's job count
// against the outcomes filed, the slots claimed and the summary's marks.
func runLedger(t *testing.T, a *app.App) string {
	ctx := context.Background()
	var b strings.Builder
	open, err := a.Ledger.List(ctx, "open-runs/")
	fmt.Fprintf(&b, "open-runs: %v (err %v)\n", open, err)
	keys, err := a.Ledger.List(ctx, "runs/")
	if err != nil {
		fmt.Fprintf(&b, "runs/: %v\n", err)
		return b.String()
	}
	type tally struct {
		jobs, slots int
		other       []string
	}
	runs := map[string]*tally{}
	for _, k := range keys {
		run, rest, _ := strings.Cut(strings.TrimPrefix(k, "runs/"), "/")
		r := runs[run]
		if r == nil {
			r = &tally{}
			runs[run] = r
		}
		switch {
		case strings.HasPrefix(rest, "jobs/"):
			r.jobs++
		case strings.HasPrefix(rest, "slot/"):
			r.slots++
		default:
			v, _, _ := a.Ledger.Get(ctx, k)
			if len(v) > 80 {
				var m struct {
					Jobs []string `json:"jobs"`
				}
				_ = json.Unmarshal(v, &m)
				v = []byte(fmt.Sprintf("(%d bytes, %d jobs)", len(v), len(m.Jobs)))
			}
			r.other = append(r.other, rest+"="+string(v))
		}
	}
	for run, r := range runs {
		fmt.Fprintf(&b, "run %s: %d outcomes filed, %d slots claimed, %v\n", run, r.jobs, r.slots, r.other)
	}
	return b.String()
}

// tencentFleet is fleet() without Huawei RDS: n running instances of the
// Tencent products, the first tagged of them carrying the nightly tag.
func tencentFleet(n, tagged int) *fixture.Set {
	set, _ := fleet(n*4/3+4, func(int) bool { return false })
	var ins []fixture.Instance
	for _, in := range set.Instances {
		if in.Product != provider.HuaweiRDS && len(ins) < n {
			if len(ins) < tagged {
				in.Tags[fixture.NightlyTagKey] = fixture.NightlyTagValue
			}
			ins = append(ins, in)
		}
	}
	set.Instances = ins
	return set
}

// crashOutcomes reads every outcome in the ledger; two for one job is an
// error.
func crashOutcomes(t *testing.T, a *app.App) map[string]flow.Outcome {
	t.Helper()
	ctx := context.Background()
	keys, err := a.Ledger.List(ctx, "jobs/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]flow.Outcome{}
	for _, k := range keys {
		if !strings.HasSuffix(k, "/outcome") {
			continue
		}
		raw, ok, err := a.Ledger.Get(ctx, k)
		if err != nil || !ok {
			t.Fatalf("outcome %s: %v %v", k, ok, err)
		}
		var o flow.Outcome
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("outcome %s: %v", k, err)
		}
		if _, dup := out[o.JobID]; dup {
			t.Errorf("job %s has two outcome records", o.JobID)
		}
		out[o.JobID] = o
	}
	return out
}

// prodRig is the shipped create-backup binary (SCF build) against an
// emulator over HTTP with the cloud queues and a COS ledger, configured
// from the environment it is invoked with, as deployed.
type prodRig struct {
	emu  *emulator.Emulator
	env  map[string]string
	pr   *fnProcess
	logs *syncBuf
}

// newProdRig starts one; front, when set, wraps the emulator's handler
// (added latency, a spy).
func newProdRig(tb testing.TB, bin string, o emulator.Options, front func(http.Handler) http.Handler, ledger string) *prodRig {
	tb.Helper()
	emu, err := emulator.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	var h http.Handler = emu
	if front != nil {
		h = front(emu)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	env := emu.Env(srv.URL)
	maps.Copy(env, emulator.CloudQueues(ledger))
	env["BACKUPFLOW_PRODUCTS"], env["BACKUPFLOW_LOG_LEVEL"] = "mysql,sqlserver,mongodb", "warn"
	logs := &syncBuf{}
	return &prodRig{emu: emu, env: env, pr: startProcess(tb, bin, logs), logs: logs}
}

// nightlyTimer is the nightly timer's event, fired now.
func nightlyTimer() string {
	return `{"Type":"Timer","TriggerName":"nightly","Time":"` + time.Now().UTC().Format(time.RFC3339) + `","Message":""}`
}

// TestNightlyFanOutKeepsToTheSendLimit runs the shipped create-backup
// binary's nightly fan-out over 300 tagged instances against the emulator,
// which holds SendCmqMsg to its documented 100 requests/s. Over loopback a
// send takes well under a millisecond, as it can inside a region: the
// fan-out must pace itself, and its first invocation must queue every job.
// It used to send as fast as the network allowed and fail the whole run on
// throttling (found by TestCrashSoak).
func TestNightlyFanOutKeepsToTheSendLimit(t *testing.T) {
	b := needBinaries(t)
	const n = 300
	set := tencentFleet(n, n)
	r := newProdRig(t, b.prodCreate, emulator.Options{Fleet: set}, nil, "ledger-fanout")
	emu, env, pr := r.emu, r.env, r.pr
	reply, err := pr.invoke(nightlyTimer(), env)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Error != nil {
		t.Fatalf("the nightly fan-out failed: %s", reply.Error.Message)
	}
	if v, i, d := emu.CMQ.Stats("backupflow-work"); v+i+d != n {
		t.Errorf("work queue holds %d messages; want one per tagged instance, %d", v+i+d, n)
	}
}

// TestCrashSoak_RetentionDelete kills the create-backup process running
// retention's delete phase at each point around the cloud delete: between
// the "deleting" record and the call, and between the call and the
// "deleted" record. The platform redelivers to a fresh process. Either
// way the expired backup is deleted once (one DeleteBackup reaches the
// cloud), its record ends "deleted" with no pending mark, and the run's one
// notice counts it: nothing deleted twice, nothing forgotten.
func TestCrashSoak_RetentionDelete(t *testing.T) {
	b := needBinaries(t)
	const inst = "cdb-c1nl9rpv"
	for _, point := range []string{"retention-before-delete", "retention-after-delete"} {
		t.Run(point, func(t *testing.T) {
			clk := newFileClock(t)
			emu, err := emulator.New(emulator.Options{Now: clk.Now, JobDuration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(emu)
			t.Cleanup(srv.Close)
			env := emu.Env(srv.URL)
			maps.Copy(env, emulator.CloudQueues("ledger-crash-"+point))
			maps.Copy(env, map[string]string{"BACKUPFLOW_TARGETS": inst, "BACKUPFLOW_DISCOVER_TAG": "none", "BACKUPFLOW_PRODUCTS": "mysql",
				"BACKUPFLOW_RETENTION": "keep-last=1", "BACKUPFLOW_RETENTION_SHARE": "1", "BACKUPFLOW_RETENTION_DELETE": "true",
				"BACKUPFLOW_NOTIFY": "print:", "BACKUPFLOW_LOG_LEVEL": "warn"})
			logs := &syncBuf{}
			start := func(bin string) *fnProcess {
				return startProcessEnv(t, bin, []string{crashClockEnv + "=" + clk.path}, logs)
			}
			procs := map[string]*fnProcess{b.create: start(b.create), b.poll: start(b.poll)}
			crashes := 0
			// call invokes bin's instance with its deadline on the shared
			// clock; an instance that died at the crash point is replaced.
			call := func(bin, event string, env map[string]string) {
				pr := procs[bin]
				req := pr.Request([]byte(event), env, time.Minute)
				dl := clk.Now().Add(time.Minute)
				req.Deadline = scfinvoke.Timestamp{Seconds: dl.Unix(), Nanos: int64(dl.Nanosecond())}
				req.FunctionName = "crash"
				reply, err := pr.Invoke(context.Background(), req)
				if err == nil {
					if reply.Error != nil {
						t.Fatalf("function error: %+v\n%s", reply.Error, tail(logs))
					}
					return
				}
				select {
				case <-pr.Done():
				case <-time.After(30 * time.Second): // hang guard only
					t.Fatalf("invocation failed (%v) and the instance still runs\n%s", err, tail(logs))
				}
				if code := pr.Cmd.ProcessState.ExitCode(); code != 86 {
					t.Fatalf("instance ended with %v, not at the crash point\n%s", pr.Cmd.ProcessState, tail(logs))
				}
				crashes++
				procs[bin] = start(bin)
			}
			night := func(crashAt string) {
				timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + clk.Now().UTC().Format(time.RFC3339) + `","Message":""}`
				call(b.create, timer, env)
				for round, settled := 0, 0; settled < 2; round++ {
					if round > 2000 {
						t.Fatalf("queues not empty after %d rounds\n%s", round, tail(logs))
					}
					e := env
					if crashAt != "" && crashes == 0 {
						e = maps.Clone(env)
						e[flowCrashEnv] = crashAt
					}
					call(b.create, drainTimer, e)
					call(b.poll, drainTimer, env)
					visible, total := 0, 0
					for _, q := range []string{"backupflow-work", "backupflow-poll"} {
						v, i, d := emu.CMQ.Stats(q)
						visible += v
						total += v + i + d
					}
					switch {
					case total == 0:
						settled++
						clk.Advance(time.Hour)
					case visible == 0:
						settled = 0
						if next, ok := emu.CMQ.NextDue(); ok {
							clk.Advance(next.Sub(clk.Now()) + time.Millisecond)
						}
					default:
						settled = 0
					}
				}
			}
			night("")
			clk.Advance(22 * time.Hour)
			night(point)

			if crashes != 1 {
				t.Fatalf("%d instances died at %s; want 1\n%s", crashes, point, tail(logs))
			}
			var expired string
			for _, j := range emu.Jobs() {
				if j.InstanceID == inst && !j.Deleted.IsZero() {
					if expired != "" {
						t.Errorf("backups %s and %s deleted; want only the older of two", expired, j.ID)
					}
					expired = j.ID
				}
			}
			if expired == "" {
				t.Fatalf("no backup deleted after two nights of keep-last-1\n%s", tail(logs))
			}
			if n := emu.Tencent.Calls("cdb", "DeleteBackup"); n != 1 {
				t.Errorf("%d DeleteBackup calls reached the cloud; want 1", n)
			}
			led, err := ledger.Open(context.Background(), env["BACKUPFLOW_LEDGER"], openurl.Env{Getenv: func(k string) string { return env[k] }, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			rec, ok, err := led.Get(context.Background(), "retention/deleted/"+inst+"/"+expired)
			if err != nil || !ok || !strings.Contains(string(rec), `"state":"deleted"`) {
				t.Errorf("deletion record of %s = %s (found %v, %v); want state deleted", expired, rec, ok, err)
			}
			if keys, err := led.List(context.Background(), "retention/pending/"); err != nil || len(keys) != 0 {
				t.Errorf("pending marks left: %v (%v)", keys, err)
			}
			out := logs.String()
			if n := strings.Count(out, "Retention after nightly-"); n != 2 {
				t.Errorf("%d retention notices; want one a night\n%s", n, tail(logs))
			}
			if !strings.Contains(out, ": 1 backupflow backups expired") {
				t.Errorf("no notice counts the expired backup\n%s", tail(logs))
			}
		})
	}
}

// TestNightlyFanOutRidesOutTransientFaults runs the shipped create-backup
// binary's nightly fan-out over 150 tagged instances against the emulator
// breaking 10 % of requests with transient faults (internal errors, 5xx,
// dropped connections, throttling, null and gateway answers). Discovery makes one read per MongoDB
// instance (its encryption status) besides the list pages; a single fault
// in any of them failed the whole invocation, and every retry started over,
// so at this rate the night never ran (found by the real-time window
// benchmark). Reads are idempotent, so discovery retries them.
func TestNightlyFanOutRidesOutTransientFaults(t *testing.T) {
	b := needBinaries(t)
	const n = 150
	set := tencentFleet(n, n)
	// Every transient kind but Slow, which only waits (2 s a time).
	inj := fault.New(0.1, 1, fault.InternalError, fault.ServerError, fault.Drop, fault.Throttle,
		fault.Null, fault.GatewayThrottle, fault.GatewayBadGateway)
	r := newProdRig(t, b.prodCreate, emulator.Options{Fleet: set, Faults: inj}, nil, "ledger-fanout-faults")
	emu, env, pr, logs := r.emu, r.env, r.pr, r.logs
	nightly := nightlyTimer()
	// A hand-off whose send failed (after its three tries) fails the
	// invocation on purpose, and the platform retries it (SCF retries a
	// failed async invocation twice). The retry sends only the jobs with
	// no open record (it used to send all: 299 messages for 150 jobs). So
	// the fan-out may take a retry; it may not take more.
	const tries = 3
	for try := 1; ; try++ {
		reply, err := pr.invoke(nightly, env)
		if err != nil {
			t.Fatal(err)
		}
		if reply.Error == nil {
			t.Logf("the fan-out completed on invocation %d", try)
			break
		}
		if try == tries {
			t.Fatalf("the nightly fan-out failed %d times on transient faults; the last: %s\n%s", tries, reply.Error.Message, tail(logs))
		}
	}
	// Every tagged instance's job is queued; a retry's repeats carry the
	// same job ids, which the consumers drop.
	queued := map[string]int{}
	bodies := emu.CMQ.Bodies("backupflow-work")
	for _, body := range bodies {
		m, err := job.Decode([]byte(body))
		if err != nil {
			t.Fatalf("queued message does not decode: %v", err)
		}
		queued[m.Spec.InstanceID]++
	}
	for _, in := range set.Instances {
		if queued[in.ID] == 0 {
			t.Errorf("tagged instance %s has no queued job", in.ID)
		}
	}
	if len(queued) != n {
		t.Errorf("jobs queued for %d instances; want the %d tagged", len(queued), n)
	}
	// A repeat is only a send that failed ambiguously yet landed, before
	// its open record was written: a few of the first try's failures.
	if len(bodies) > n+n/10 {
		t.Errorf("%d messages for %d jobs; a retry resends only what is missing", len(bodies), n)
	}
	t.Logf("%d messages for %d jobs; faults injected: %v", len(bodies), len(queued), emu.Faults.Counts())
}

// TestDrainFinishesWhatItHoldsWhenAReceiveFails: the shipped create-backup
// binary drains its CMQ work queue through the real driver; the queue API
// answers the drain's second receive with a 503 while the first batch is
// held for its paced slots. Every held create is still made in that
// invocation, and the invocation reports the failed receive. Abandoned,
// they stayed hidden for the work queue's visibility timeout (16 min).
func TestDrainFinishesWhatItHoldsWhenAReceiveFails(t *testing.T) {
	b := needBinaries(t)
	const n = 40
	set := tencentFleet(n, n)
	var receives atomic.Int32
	front := func(emu http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			if form.Get("Action") == "BatchReceiveMessage" && form.Get("queueName") == "backupflow-work" && receives.Add(1) == 2 {
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				return
			}
			emu.ServeHTTP(w, r)
		})
	}
	r := newProdRig(t, b.prodCreate, emulator.Options{Fleet: set}, front, "ledger-drain-receive")
	if reply, err := r.pr.invoke(nightlyTimer(), r.env); err != nil || reply.Error != nil {
		t.Fatalf("fan-out: %v %+v\n%s", err, reply, tail(r.logs))
	}
	reply, err := r.pr.invoke(drainTimer, r.env)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Error == nil || !strings.Contains(reply.Error.Message, "receive") {
		t.Errorf("drain answered %+v; want the failed receive reported", reply.Error)
	}
	if receives.Load() < 2 {
		t.Fatalf("the drain received %d times; the test needs a second receive to fail", receives.Load())
	}
	made := 0
	for _, j := range r.emu.Jobs() {
		if !j.Auto {
			made++
		}
	}
	// Whatever the first receive took was handled and deleted: nothing is
	// left hidden in flight.
	if _, inflight, _ := r.emu.CMQ.Stats("backupflow-work"); inflight != 0 || made == 0 {
		t.Errorf("after the drain: %d backups made, %d work messages hidden in flight; want the held ones made and none hidden\n%s",
			made, inflight, tail(r.logs))
	}
}
