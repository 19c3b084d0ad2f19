package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/provider/huaweirds"
	"github.com/backupflow/backupflow/pkg/provider/tcmongodb"
	"github.com/backupflow/backupflow/pkg/provider/tcmysql"
	"github.com/backupflow/backupflow/pkg/provider/tcsqlserver"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// faultKinds are the injected faults. Slow is left out: it waits in real
// time, and a virtual-clock run would only measure the host's sleep.
var faultKinds = []fault.Kind{fault.InternalError, fault.ServerError, fault.Drop, fault.Throttle, fault.Busy,
	fault.Null, fault.GatewayThrottle, fault.GatewayBadGateway}

// world is one night of one strategy: an emulator on the shared clock and
// the real provider adapters wired to it.
type world struct {
	emu       *emulator.Emulator
	providers map[provider.Product]provider.Provider
	calls     *callCounter
}

// injector breaks a share rate of cloud calls with the simulated kinds.
func injector(rate float64, seed uint64) *fault.Injector {
	if rate <= 0 {
		return nil
	}
	return fault.New(rate, seed, faultKinds...)
}

func newWorld(clk *clocktest.Clock, set *fixture.Set, inj *fault.Injector) (*world, error) {
	discard := slog.New(slog.DiscardHandler)
	emu, err := emulator.New(emulator.Options{Fleet: set, Now: clk.Now, Faults: inj, Logger: discard,
		Queues: []string{"unused"}})
	if err != nil {
		return nil, err
	}
	w := &world{emu: emu, providers: map[provider.Product]provider.Provider{}, calls: &callCounter{}}
	tc, err := tencent.New(tencent.Config{
		Credentials: tencent.Credentials{SecretID: emulator.DefaultSecretID, SecretKey: secret.String(emulator.DefaultSecretKey)},
		Region:      "ap-guangzhou", Endpoint: "emulator.local:80", Transport: newInProcess(emu),
		// The client's pacer waits on the wall clock; the simulation runs on
		// virtual time and the emulator enforces the limits there, as app.Open
		// does for a simulated App.
		NoPace: true,
		// A retried read (discovery's) waits out its backoff on that time.
		Now: clk.Now, Sleep: clk.Sleep,
	})
	if err != nil {
		return nil, err
	}
	w.providers[provider.MySQL] = tcmysql.New(tc, tcmysql.Options{Region: "ap-guangzhou", Now: clk.Now})
	w.providers[provider.SQLServer] = tcsqlserver.New(tc, tcsqlserver.Options{Region: "ap-guangzhou", Now: clk.Now})
	w.providers[provider.MongoDB] = tcmongodb.New(tc, tcmongodb.Options{Region: "ap-guangzhou", Now: clk.Now})
	if len(set.Of(provider.HuaweiRDS)) > 0 {
		// In process like Tencent's: over loopback HTTP each call cost two
		// goroutine hand-offs and four socket syscalls.
		hw, err := huaweirds.New(huaweirds.Config{AK: emulator.DefaultSecretID, SK: secret.String(emulator.DefaultSecretKey),
			ProjectID: set.HuaweiProjectID, Region: "cn-north-4", Endpoint: "emulator.local:80", Transport: huaweiTransport(emu), Now: clk.Now, Sleep: clk.Sleep})
		if err != nil {
			return nil, err
		}
		w.providers[provider.HuaweiRDS] = hw
	}
	for p, pr := range w.providers {
		c := counted{p: pr, c: w.calls}
		if ex, ok := pr.(provider.Expirer); ok {
			w.providers[p] = countedExpirer{counted: c, ex: ex}
			continue
		}
		w.providers[p] = c
	}
	return w, nil
}

// huaweiTransport carries the Huawei adapter's calls to the world's
// emulator; a test swaps in a loopback socket to hold the figures to it.
var huaweiTransport = func(h http.Handler) http.RoundTripper { return newInProcess(h) }

func (w *world) provider(p provider.Product) (provider.Provider, error) {
	pr, ok := w.providers[p]
	if !ok {
		return nil, fmt.Errorf("product %s not in this fleet", p)
	}
	return pr, nil
}

// callCounter counts the cloud calls each job costs, by job name, and the
// throttled answers. The event loop is sequential; it locks so a
// provider that answers on other goroutines stays safe.
type callCounter struct {
	mu        sync.Mutex
	status    map[string]int
	other     map[string]int // creates and lookups
	throttled int
	// throttledStatus is the share of throttled answers that were status
	// reads (the rest: creates and lookups).
	throttledStatus int
	// Retention's calls, kept apart so the backup figures stay the same:
	// listings and delete calls (answered or not), and per backup id the
	// delete calls the cloud accepted and any call after one was.
	lists, deletes int
	accepted       map[string]int
	afterAccepted  int
	// meter, when set, bills each backup call to the invocation making it;
	// n counts those calls.
	meter *meter
	n     int
}

func (c *callCounter) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *callCounter) addRetention(list bool, ids []string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if list {
		c.lists++
		return
	}
	c.deletes++
	if c.accepted == nil {
		c.accepted = map[string]int{}
	}
	for _, id := range ids {
		if c.accepted[id] > 0 {
			c.afterAccepted++
		}
		if err == nil {
			c.accepted[id]++
		}
	}
}

func (c *callCounter) add(name string, status bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == nil {
		c.status, c.other = map[string]int{}, map[string]int{}
	}
	if status {
		c.status[name]++
	} else {
		c.other[name]++
	}
	c.n++
	c.meter.call()
	if isThrottle(err) {
		c.throttled++
		if status {
			c.throttledStatus++
		}
	}
}

func (c *callCounter) total() (status, other int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.status {
		status += n
	}
	for _, n := range c.other {
		other += n
	}
	return status, other
}

// isThrottle tells a rate-limit answer from other retryable errors, by the
// clouds' codes (Tencent RequestLimitExceeded, MongoDB
// LimitExceeded.TooManyRequests, Huawei APIGW.0308 / HTTP 429).
func isThrottle(err error) bool {
	if err == nil {
		return false
	}
	code := apierr.Code(err)
	if strings.Contains(code, "RequestLimitExceeded") || strings.Contains(code, "TooManyRequests") || code == "APIGW.0308" {
		return true
	}
	var ae *apierr.Error
	return errors.As(err, &ae) && ae.HTTPStatus == http.StatusTooManyRequests
}

// counted wraps a real adapter to count its calls per job.
type counted struct {
	p provider.Provider
	c *callCounter
}

func (c counted) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	r, err := c.p.Start(ctx, spec)
	c.c.add(spec.Name, false, err)
	return r, err
}

func (c counted) Status(ctx context.Context, spec provider.Spec, ref provider.Ref) (provider.Status, error) {
	st, err := c.p.Status(ctx, spec, ref)
	c.c.add(spec.Name, true, err)
	return st, err
}

func (c counted) Find(ctx context.Context, spec provider.Spec) (provider.Ref, bool, error) {
	r, ok, err := c.p.Find(ctx, spec)
	c.c.add(spec.Name, false, err)
	return r, ok, err
}

// DefaultMethods forwards the fan-out's batched method lookup to an
// adapter that has one (provider.MethodResolver); its calls are counted
// under no job (they count in the calls per job, not in any job's).
func (c counted) DefaultMethods(ctx context.Context, region string, ids []string) (map[string]string, error) {
	mr, ok := c.p.(provider.MethodResolver)
	if !ok {
		return nil, nil
	}
	m, err := mr.DefaultMethods(ctx, region, ids)
	c.c.add("", false, err)
	return m, err
}

// countedExpirer is counted for an adapter that can list and delete.
type countedExpirer struct {
	counted
	ex provider.Expirer
}

func (c countedExpirer) Backups(ctx context.Context, spec provider.Spec) ([]provider.CloudBackup, error) {
	bs, err := c.ex.Backups(ctx, spec)
	c.c.addRetention(true, nil, err)
	return bs, err
}

func (c countedExpirer) Delete(ctx context.Context, spec provider.Spec, backups []provider.CloudBackup) error {
	err := c.ex.Delete(ctx, spec, backups)
	ids := make([]string, len(backups))
	for i, b := range backups {
		ids[i] = spec.InstanceID + "/" + b.ID
	}
	c.c.addRetention(false, ids, err)
	return err
}

// recorder of outcomes: the simulation's notifier.
type outcomes struct {
	mu        sync.Mutex
	byJob     map[string]flow.Outcome
	notices   map[string]int
	summaries int
	retention []flow.RetentionNotice
}

func newOutcomes() *outcomes {
	return &outcomes{byJob: map[string]flow.Outcome{}, notices: map[string]int{}}
}

func (o *outcomes) Notify(_ context.Context, n flow.Notice) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n.Outcome != nil {
		o.notices[n.Outcome.JobID]++
		if _, ok := o.byJob[n.Outcome.JobID]; !ok {
			o.byJob[n.Outcome.JobID] = *n.Outcome
		}
	}
	if n.Summary != nil {
		o.summaries++
	}
	if n.Retention != nil {
		o.retention = append(o.retention, *n.Retention)
	}
	return nil
}

// emuJobs indexes the emulator's jobs by name, for duplicate counting and
// the true end time of each job.
func emuJobs(e *emulator.Emulator) map[string][]fixture.Job {
	m := map[string][]fixture.Job{}
	for _, j := range e.Jobs() {
		m[j.Name] = append(m[j.Name], j)
	}
	for _, js := range m {
		slices.SortFunc(js, func(a, b fixture.Job) int { return a.Created.Compare(b.Created) })
	}
	return m
}
