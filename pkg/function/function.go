package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/clock"
	"github.com/backupflow/backupflow/pkg/event"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/queue"
)

// Receiver is the consuming side of a queue, drained by a timer on SCF (CMQ
// queues cannot trigger SCF).
type Receiver interface {
	Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error)
	Delete(ctx context.Context, receipt string) error
}

// DrainMessage is the timer argument that makes a timer invocation drain
// the function's queue instead of running the nightly fan-out.
const DrainMessage = event.DrainMessage

// The trigger kinds each event function accepts; anything else is refused
// with an error naming what arrived and what is accepted, before anything
// is read or sent. The function table (and the events×functions test)
// reads these lists, so a handler and its table entry cannot disagree.
var (
	// CreateBackupTriggers: the nightly timers (SCF timer, EventBridge
	// schedule), the SCF drain timer of the work queue, and work batches.
	CreateBackupTriggers = []event.Kind{event.SCFTimer, event.SCFDrainTimer, event.Schedule, event.CMQMessages, event.SQSMessages}
	// StartMigrationTriggers: object-created events.
	StartMigrationTriggers = []event.Kind{event.COSObjects, event.S3Objects}
	// PollStatusTriggers: the SCF drain timer of the poll queue and poll
	// batches. A nightly timer is not one: it would drain, silently.
	PollStatusTriggers = []event.Kind{event.SCFDrainTimer, event.CMQMessages, event.SQSMessages}
	// ChatopsTriggers: the chat function is an HTTP handler.
	ChatopsTriggers = []event.Kind{event.HTTPRequest}
)

// decode reads payload for the named function, refusing other kinds.
func decode(function string, payload []byte, accepts []event.Kind) (*event.Trigger, error) {
	tr, err := event.DecodeFor(payload, accepts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	return tr, nil
}

// Report is what a handler returns for a non-SQS trigger (printed by
// `backupflow invoke`, visible in the platform's console).
type Report struct {
	Run      string   `json:"run,omitempty"`
	Jobs     []string `json:"jobs,omitempty"`
	Skipped  int      `json:"skipped,omitempty"`
	Handled  int      `json:"handled,omitempty"`
	Failed   int      `json:"failed,omitempty"`
	Ignored  []string `json:"ignored,omitempty"`
	Drained  int      `json:"drained,omitempty"`
	Leftover bool     `json:"leftover,omitempty"`
	// Requeued and Stuck count the sweep's mends of jobs whose message was lost.
	Requeued int `json:"requeued,omitempty"`
	Stuck    int `json:"stuck,omitempty"`
}

// sweep runs the sweep for lost messages. Its failure never fails the
// invocation's own work; it is logged, and the next sweep tries again.
func sweep(ctx context.Context, svc *flow.Service, o Options, force bool) flow.SweepReport {
	// At most half of what is left of the invocation, by the handler's
	// clock (the platform's in production, a simulation's virtual one): the
	// drain needs the rest.
	if dl, ok := invocationDeadline(ctx); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dl.Sub(o.Now())/2)
		defer cancel()
	}
	rep, err := svc.Sweep(ctx, force)
	if err != nil {
		o.Logger.Error("sweep for lost messages incomplete; the next one retries", "err", err)
	}
	return rep
}

// Options tune the handlers.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Headroom is kept free before the invocation deadline when draining.
	Headroom time.Duration
	// MaxReceives: a message received more times than this is
	// dead-lettered with its reason. Default DefaultMaxReceives.
	MaxReceives int
	// Pace, when set, spaces create steps of a product at its published
	// rate while draining (a wait, only on the drain path).
	Pace bool
	// Sleep is how the pacer waits: a real timer by default; a simulation
	// passes its virtual clock's, so pacing costs no wall time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Workers is how many held messages a drain handles at once (default
	// DefaultWorkers). 1 handles them one after another, inline.
	Workers int
	// Consumers divides the limits the pacer keeps to (default 1): with N
	// instances handling the queue at once, each at 1/N keeps them all
	// within the limits. A share leaves capacity unused when a batch lacks a
	// product, so it pays only with many consumers (docs/operations.md,
	// BACKUPFLOW_CONSUMERS).
	Consumers int
}

// DefaultWorkers is how many messages a drain handles at once. A serial
// drain makes one cloud call at a time: at ~100 ms a call that is 10 a
// second, while the four products' create limits add up to 55 a second
// at the start of the nightly fan-out, so most booked slots were reached
// late (docs/benchmarks.md: 6,831 of 10,000 on night 1). 55 creates a
// second × ~1.3 calls a step (the create, a retry or lookup now and then)
// × 100 ms is ~7 calls in flight; 8 covers it with the ledger's and the
// queue's own calls overlapping too, and the simulator's lane model
// reaches no slot late at 8. More would only add pressure on the status
// limits, which the status book already spaces.
const DefaultWorkers = 8

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Headroom == 0 {
		o.Headroom = 15 * time.Second
	}
	if o.MaxReceives == 0 {
		o.MaxReceives = DefaultMaxReceives
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Consumers <= 0 {
		o.Consumers = 1
	}
}

// CreateBackup handles the nightly timer (fan-out), the drain timer (SCF) and
// SQS/CMQ batches of create steps.
func CreateBackup(svc *flow.Service, work Receiver, o Options) invoke.Handler {
	o.defaults()
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		tr, err := decode("create-backup", payload, CreateBackupTriggers)
		if err != nil {
			return nil, err
		}
		switch tr.Kind {
		case event.SCFDrainTimer:
			// The drain timer (SCF) also mends jobs whose message a queue
			// lost; the sweep spaces itself out (flow.Config.SweepEvery).
			sweep(ctx, svc, o, false)
			return drain(ctx, svc, work, o, time.Time{})
		case event.SCFTimer, event.Schedule:
			sel, err := flow.ParseSelection(tr.Timer.Message)
			if err != nil {
				return nil, fmt.Errorf("create-backup: %w", err)
			}
			at := tr.Timer.Time
			if at.IsZero() {
				// Without the scheduled time a retried delivery lands in
				// another slot: new job ids, second backups.
				at = o.Now()
				o.Logger.Warn("schedule carries no time; the run's slot is the arrival time, so a retried delivery makes another run (pass "+
					event.ScheduledTimeKey+" in the schedule's Input)", "trigger", tr.Timer.Name)
			}
			rep, err := svc.Nightly(ctx, at, sel)
			if err != nil {
				return nil, err
			}
			name := tr.Timer.Name
			if name == "" {
				name = "nightly"
			}
			// The one line an operator looks for after a run: what it started.
			o.Logger.InfoContext(ctx, fmt.Sprintf("%s fired: %d queued, %d skipped", name, len(rep.Jobs), len(rep.Skipped)),
				"run", rep.Run, "queued", len(rep.Jobs), "skipped", len(rep.Skipped))
			// Retention follows a full run (its step waits for the run's
			// summary); a narrowed run expires nothing.
			if len(sel.Targets) == 0 && svc.RetentionConfigured() {
				if err := svc.QueueRetention(ctx, rep.Run, at); err != nil {
					return nil, fmt.Errorf("create-backup: %w", err)
				}
			}
			// On AWS (no drain timer) the nightly run is the sweep's turn.
			sw := sweep(ctx, svc, o, true)
			return json.Marshal(Report{Run: rep.Run, Jobs: rep.Jobs, Skipped: len(rep.Skipped), Requeued: sw.Requeued, Stuck: sw.Stuck})
		}
		return batch(ctx, svc, tr, o)
	}
}

// StartMigration handles COS/S3 object-created events.
func StartMigration(svc *flow.Service, o Options) invoke.Handler {
	o.defaults()
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		tr, err := decode("start-migration", payload, StartMigrationTriggers)
		if err != nil {
			return nil, err
		}
		rep := Report{}
		for _, s := range tr.Skipped {
			rep.Ignored = append(rep.Ignored, s.Reason)
		}
		var errs []error
		for _, e := range tr.RecordErrors {
			o.Logger.Error("unreadable upload record skipped", "err", e)
			rep.Failed++
		}
		for _, ob := range tr.Objects {
			id, err := svc.Upload(ctx, flow.Upload{Platform: ob.Platform, Bucket: ob.Bucket, Region: ob.Region, Key: ob.Key,
				ETag: ob.ETag, VersionID: ob.VersionID, Size: ob.Size})
			switch {
			case errors.Is(err, flow.ErrSkipped):
				rep.Ignored = append(rep.Ignored, ob.Key)
			case err != nil:
				o.Logger.Error("import not started; the platform will retry the event", "job", id, "bucket", ob.Bucket, "key", ob.Key, "err", err)
				errs = append(errs, err)
				rep.Failed++
			default:
				rep.Handled++
				rep.Jobs = append(rep.Jobs, id)
			}
		}
		if len(errs) > 0 {
			// The platform retries the whole event; handled objects are
			// recognised by job id and not started twice.
			return nil, fmt.Errorf("start-migration: %d of %d uploads failed: %w", len(errs), len(tr.Objects), errors.Join(errs...))
		}
		return json.Marshal(rep)
	}
}

// PollStatus handles the drain timer (SCF) and SQS/CMQ batches of poll steps.
func PollStatus(svc *flow.Service, poll Receiver, o Options) invoke.Handler {
	o.defaults()
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		tr, err := decode("poll-status", payload, PollStatusTriggers)
		if err != nil {
			return nil, err
		}
		if tr.Kind == event.SCFDrainTimer {
			return drain(ctx, svc, poll, o, time.Time{})
		}
		return batch(ctx, svc, tr, o)
	}
}

// batch handles pushed messages (an SQS event source's batch, a CMQ topic
// push) as a drain of a queue that holds just them: the same pacing, slot
// order and workers. Handled one after another, a Lambda consumer made at
// most ten creates a second whatever the limits allowed, and a product's
// creates queued behind the others' in arrival order
// (BenchmarkNightlyWindowLambda: 1.38 × the bound; 1.04 now). On SQS the reply names the records not
// handled (ReportBatchItemFailures) so one bad record never fails its
// batch; on a CMQ topic push an error makes SCF retry the event.
func batch(ctx context.Context, svc *flow.Service, tr *event.Trigger, o Options) ([]byte, error) {
	var failed []string
	rep := Report{}
	sqs := false
	p := &pushed{done: map[string]bool{}}
	for _, e := range tr.RecordErrors {
		// No id to name in the reply: it is not a record the queue holds
		// (SQS delivers only its own), so logging it loses nothing.
		o.Logger.Error("unreadable record skipped", "err", e)
	}
	for i, m := range tr.Messages {
		if m.Platform == "sqs" {
			sqs = true
		}
		if m.Err != nil {
			// An unreadable record is reported failed so SQS redelivers it and
			// its redrive policy dead-letters it; it is never silently dropped.
			o.Logger.Error("unreadable queue record", "id", m.ID, "err", m.Err)
			failed = append(failed, m.ID)
			continue
		}
		// The receipt is the record's place: one batch may carry a message
		// twice (at-least-once), and each copy is accounted for.
		p.ms = append(p.ms, queue.Message{ID: m.ID, Body: m.Body, Receipt: strconv.Itoa(i), Receives: m.Receives})
	}
	if len(p.ms) > 0 {
		// No headroom: it keeps a drain from taking more messages near the
		// deadline, and a pushed batch takes none; with it, a function whose
		// timeout is below the headroom failed every record.
		o.Headroom = 0
		var finishBy time.Time
		if dl, ok := invocationDeadline(ctx); ok {
			// A short invocation keeps a quarter of what it has instead.
			finishBy = dl.Add(-min(batchReplyMargin, dl.Sub(o.Now())/4))
		}
		if _, err := drain(ctx, svc, p, o, finishBy); err != nil {
			// What it did not finish is reported failed below.
			o.Logger.Error("batch stopped early", "err", err)
		}
	}
	for _, m := range p.ms {
		if p.handled(m.Receipt) {
			rep.Handled++
		} else {
			failed = append(failed, m.ID)
		}
	}
	rep.Failed = len(failed)
	if sqs {
		return json.Marshal(event.NewBatchResponse(failed...))
	}
	if len(failed) > 0 || len(tr.RecordErrors) > 0 {
		return nil, fmt.Errorf("%d of %d messages not handled", len(failed)+len(tr.RecordErrors), len(tr.Messages))
	}
	return json.Marshal(rep)
}

// pushed is a pushed batch as a Receiver: its first receive returns every
// message, later ones nothing, and a delete marks a message handled (the
// platform deletes what the reply does not name).
type pushed struct {
	ms    []queue.Message
	given bool
	mu    sync.Mutex
	done  map[string]bool // by receipt
}

func (p *pushed) Receive(context.Context, int, time.Duration) ([]queue.Message, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.given {
		return nil, nil
	}
	p.given = true
	return p.ms, nil
}

func (p *pushed) Delete(_ context.Context, receipt string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[receipt] = true
	return nil
}

func (p *pushed) handled(receipt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done[receipt]
}

// drain receives and handles due messages until the queue is empty or the
// invocation's deadline (less headroom) is near. A message whose hand-off
// fails is not deleted: it becomes visible again and is retried. A
// non-zero finishBy (a pushed batch's) is when it stops starting messages:
// a held one whose slot is later is left, neither handled nor deleted.
func drain(ctx context.Context, svc *flow.Service, q Receiver, o Options, finishBy time.Time) ([]byte, error) {
	if q == nil {
		return nil, errors.New("drain: this function has no queue to drain")
	}
	deadline, ok := invocationDeadline(ctx)
	pace := newPacer(o.Now, o.Sleep)
	pace.share = 1 / float64(o.Consumers)
	rep := Report{}
	// held are received messages in booked-slot order. Each create is
	// booked its product's next slot, so a product at its limit waits
	// alone; while the head waits, the next batch is received and booked,
	// so other products' due creates go in between. In arrival order, one
	// batch at a time, a 5/s product held up every other: the
	// 10,000-instance fan-out took 4.3× its bound. Holding is bounded by
	// time, not count: the last booked slot stays before the deadline's
	// headroom. A count (64) let a backlog of one product's retries fill
	// the hand and keep every other product's creates out of it
	// (TestDrainLetsOtherProductsPastABacklog).
	var held []booked
	// slotOf: a queue's duplicate delivery (same message id) shares its
	// original's slot; booked its own, it cost the product a slot for a
	// step that is then dropped as already done.
	slotOf := map[string]time.Time{}
	room := func() bool {
		if !ok {
			return len(held) < aheadMax
		}
		return len(held) < heldMax && pace.last().Before(deadline.Add(-o.Headroom))
	}
	empty := false // the last receive found nothing, and no time has passed
	// Handled messages run on up to o.Workers goroutines, each started at
	// its slot in slot order, so the pacer still sets the rate and slow
	// calls overlap. The drain returns only once every handle has ended
	// and its message was deleted or left for redelivery.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards rep while workers run
		busy = make(chan struct{}, o.Workers)
	)
	// running serialises the copies of one message (same id): run at once
	// on two workers, a copy received too often dead-lettered the job while
	// the other copy started it (TestDrainRunsOneCopyAtATime). One after
	// the other, the second finds the first's work and is dropped.
	running := map[string]*sync.Mutex{}
	run := func(m queue.Message) {
		mu.Lock()
		l := running[m.ID]
		if l == nil {
			l = &sync.Mutex{}
			running[m.ID] = l
		}
		mu.Unlock()
		l.Lock()
		defer l.Unlock()
		err := handle(ctx, svc, o, m.ID, m.Receives, m.Body)
		if err != nil {
			o.Logger.Error("message left for redelivery", "id", m.ID, "err", err)
		} else if err := q.Delete(ctx, m.Receipt); err != nil {
			// Handled but not deleted: it will come back and be
			// recognised as a duplicate.
			o.Logger.Warn("delete failed; the duplicate will be dropped on redelivery", "id", m.ID, "err", err)
		}
		mu.Lock()
		if err != nil {
			rep.Failed++
		} else {
			rep.Drained++
		}
		mu.Unlock()
	}
	// recvErr is a failed receive. The drain stops receiving but finishes
	// what it holds, then reports it: abandoned, the held messages stayed
	// hidden for the queue's visibility timeout (16 min on the work queue)
	// and a night's window grew by that much per failed receive
	// (TestDrainFinishesHeldMessagesWhenAReceiveFails).
	var recvErr error
	err := func() error {
		for {
			late := ok && o.Now().Add(o.Headroom).After(deadline)
			more := len(held) == 0 || (o.Pace && !empty && room() && held[0].at.After(o.Now()))
			if !late && more && recvErr == nil {
				msgs, err := q.Receive(ctx, 16, 0)
				if err != nil {
					recvErr = fmt.Errorf("drain: %w", err)
					if len(held) > 0 {
						o.Logger.Error("receive failed; finishing the held messages", "held", len(held), "err", err)
					}
					continue
				}
				if len(msgs) == 0 {
					if len(held) == 0 {
						return nil
					}
					empty = true
					continue
				}
				for _, m := range msgs {
					var at time.Time
					// A message that has been received often is handled at
					// once, unpaced: every held message is received, so each
					// death of a process holding it cost it a receive without a
					// try, and in the 1,000-job crash soak (seed 7) 140 healthy
					// creates held behind far slots reached the receive limit
					// with no failure ever recorded. Handled now, it either
					// starts or records why not; a throttled start is retried.
					if o.Pace && m.Receives <= o.MaxReceives/2 {
						var dup bool
						if at, dup = slotOf[m.ID]; !dup {
							at = pace.book(m.Body)
							slotOf[m.ID] = at
						}
					}
					held = append(held, booked{m: m, at: at})
				}
				slices.SortStableFunc(held, func(a, b booked) int { return a.at.Compare(b.at) })
				continue
			}
			if len(held) == 0 {
				if recvErr != nil {
					return recvErr
				}
				mu.Lock()
				rep.Leftover = true
				mu.Unlock()
				return nil
			}
			// Held messages are finished even when late: their slots end
			// before the headroom (at most one batch past it).
			b := held[0]
			if !finishBy.IsZero() && (b.at.After(finishBy) || o.Now().After(finishBy)) {
				return nil // the rest is left for redelivery
			}
			held = held[1:]
			m := b.m
			if o.Pace {
				slept, err := pace.until(ctx, b.at)
				if err != nil {
					return err
				}
				empty = empty && !slept
			}
			if o.Workers == 1 {
				run(m)
				continue
			}
			select {
			case busy <- struct{}{}:
			default:
				// Every worker is busy: time passes while the next frees.
				empty = false
				select {
				case busy <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			wg.Add(1)
			go func() {
				defer func() { <-busy; wg.Done() }()
				run(m)
			}()
		}
	}()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return json.Marshal(rep)
}

// invocationDeadline is the earlier of ctx's deadline and the platform's.
func invocationDeadline(ctx context.Context) (time.Time, bool) {
	deadline, ok := ctx.Deadline()
	if m, mok := invoke.MetaFrom(ctx); mok && !m.Deadline.IsZero() && (!ok || m.Deadline.Before(deadline)) {
		deadline, ok = m.Deadline, true
	}
	return deadline, ok
}

// pacer spaces create steps per product at the product's published create
// rate, so a drain of a minute's backlog does not burst past the limit.
type pacer struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	share float64 // of each rate this pacer uses (Options.Consumers)
	mu    sync.Mutex
	next  map[provider.Product]time.Time
}

func newPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{now: now, sleep: sleep, share: 1, next: map[provider.Product]time.Time{}}
}

// book reserves the next slot of body's product for a create step and
// returns it; other steps are not paced (zero time).
func (p *pacer) book(body []byte) time.Time {
	m, err := job.Decode(body)
	if err != nil || m.Step != job.StepCreate {
		return time.Time{}
	}
	rate := provider.LimitsOf(m.Spec.Product, m.Spec.Op).CreatePerSecond
	gap := time.Duration(float64(time.Second) / (rate * p.share))
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.next[m.Spec.Product]
	if now := p.now(); at.Before(now) {
		at = now
	}
	p.next[m.Spec.Product] = at.Add(gap)
	return at
}

// last is the latest slot booked so far, of any product.
func (p *pacer) last() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var t time.Time
	for _, n := range p.next {
		if n.After(t) {
			t = n
		}
	}
	return t
}

// until waits for a booked slot and reports whether it waited.
func (p *pacer) until(ctx context.Context, at time.Time) (bool, error) {
	if d := at.Sub(p.now()); d > 0 {
		return true, p.sleep(ctx, d)
	}
	return false, nil
}

func (p *pacer) wait(ctx context.Context, body []byte) error {
	_, err := p.until(ctx, p.book(body))
	return err
}

// booked is a received message and its pacer slot (zero: not paced).
type booked struct {
	m  queue.Message
	at time.Time
}

// aheadMax bounds the messages a paced drain holds when it knows no
// deadline: 64 MySQL creates are 12.8 s of slots, inside the 15 s
// headroom, and far inside the queues' visibility timeout. With a
// deadline, the slots are bounded by it instead (the work queue's
// visibility timeout, 960 s, is above create-backup's 900 s), and heldMax
// only bounds memory.
const (
	aheadMax = 64
	heldMax  = 4096
)

// DefaultMaxReceives is how many times a message may be received before
// it is dead-lettered with its reason. A hand-off that fails for a
// transient reason (queue or ledger throttled) is retried by redelivery,
// so this must ride out a bad spell: the fault soak (20 % of every call
// failing) dead-lettered healthy jobs at 4. It stays one below the queues'
// own redrive count (maxReceiveCount 11 in serverless.yml and
// template.yaml), so the function, which knows the reason and notifies,
// acts before the platform moves the message silently.
const DefaultMaxReceives = 10

// handle runs one message: past MaxReceives it is given up (dead-lettered
// with its last failure); otherwise it is handled with panics recovered.
func handle(ctx context.Context, svc *flow.Service, o Options, id string, receives int, body []byte) error {
	if receives > o.MaxReceives {
		o.Logger.Error("message received too often; dead-lettering it", "id", id, "receives", receives)
		return svc.GiveUp(ctx, body, receives)
	}
	return svc.HandleSafely(ctx, body)
}

// batchReplyMargin is how long before its deadline a pushed batch stops
// starting records (at most a quarter of the invocation's time): a slot
// later than that is left for redelivery, so the reply (which names it)
// reaches the platform before the invocation is timed out. A record's
// handling takes a few calls, well under it.
const batchReplyMargin = 2 * time.Second
