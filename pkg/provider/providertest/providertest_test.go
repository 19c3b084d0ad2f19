package providertest_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/provider/providertest"
)

// fake is an in-memory provider that meets the contract; it proves the suite
// passes a correct provider (and so does not demand the impossible).
type fake struct {
	mu    sync.Mutex
	now   time.Time
	calls int
	jobs  []fakeJob
}

type fakeJob struct {
	spec  provider.Spec
	start time.Time
}

const dur = time.Minute

func (f *fake) cloud(spec provider.Spec, action string) error {
	f.calls++
	switch spec.InstanceID {
	case "cdb-unknown01":
		return apierr.New(apierr.Tencent, "cdb", action, "InvalidParameter.InstanceNotFound", "no such instance", "req-1", 0, nil)
	case "cdb-busy0001":
		return apierr.New(apierr.Tencent, "cdb", action, "OperationDenied.ActionInProcess", "busy", "req-2", 0, nil)
	}
	return nil
}

func lookup(spec provider.Spec) error {
	if spec.Op == provider.Import {
		spec.SourceURL = "x"
	}
	return spec.Validate()
}

func (f *fake) Start(_ context.Context, spec provider.Spec) (provider.Ref, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.cloud(spec, "CreateBackup"); err != nil {
		return "", fmt.Errorf("fake: %w", err)
	}
	f.jobs = append(f.jobs, fakeJob{spec: spec, start: f.now})
	return provider.Ref("backup/" + strconv.Itoa(len(f.jobs))), nil
}

func (f *fake) Status(_ context.Context, spec provider.Spec, ref provider.Ref) (provider.Status, error) {
	if err := lookup(spec); err != nil {
		return provider.Status{}, err
	}
	id, ok := strings.CutPrefix(string(ref), "backup/")
	n, err := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok || err != nil || n < 1 || n > len(f.jobs) {
		return provider.Status{}, apierr.Invalid("ref %q", ref)
	}
	f.calls++
	j := f.jobs[n-1]
	switch {
	case f.now.Sub(j.start) < dur:
		return provider.Status{State: provider.Running, Progress: -1}, nil
	case j.spec.InstanceID == "cdb-fail0001":
		return provider.Status{State: provider.Failed, Detail: "disk full"}, nil
	}
	return provider.Status{State: provider.Succeeded, Progress: 100}, nil
}

func (f *fake) Find(_ context.Context, spec provider.Spec) (provider.Ref, bool, error) {
	if err := lookup(spec); err != nil {
		return "", false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for i := len(f.jobs) - 1; i >= 0; i-- {
		if j := f.jobs[i].spec; j.InstanceID == spec.InstanceID && j.Name == spec.Name {
			return provider.Ref("backup/" + strconv.Itoa(i+1)), true, nil
		}
	}
	return "", false, nil
}

func TestRunAgainstFake(t *testing.T) {
	f := &fake{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	spec := func(id string) *provider.Spec {
		return &provider.Spec{Op: provider.Backup, Product: provider.MySQL, InstanceID: id, Name: "nightly"}
	}
	imp := spec("cdb-c1nl9rpv")
	imp.Op, imp.Product, imp.InstanceID, imp.SourceURL = provider.Import, provider.SQLServer, "mssql-rdc0gajn", "https://b/o.bak?sig=1"
	providertest.Run(t, providertest.Harness{
		Provider:          f,
		Backup:            *spec("cdb-c1nl9rpv"),
		Import:            imp,
		Advance:           func(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() },
		JobDuration:       dur,
		UnknownInstanceID: "cdb-unknown01",
		Failing:           spec("cdb-fail0001"),
		Busy:              spec("cdb-busy0001"),
		Calls:             func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls },
	})
}
