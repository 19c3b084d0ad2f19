package providertest

import (
	"context"
	"errors"
	"testing"
	"time"
	"unicode"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Harness is what a provider's test gives the suite.
type Harness struct {
	// Provider under test, talking to an emulator.
	Provider provider.Provider
	// Backup is a valid backup on an existing, healthy instance. Its Name is a
	// short prefix: the suite appends a suffix per sub-test so names never
	// collide, so keep it under ~50 characters.
	Backup provider.Spec
	// Import is an optional valid import (SQL Server only); nil skips the
	// import checks. Its Name is a prefix too.
	Import *provider.Spec
	// Advance moves the emulator's (and the provider's) clock forward. Jobs
	// started before a call to Advance(JobDuration) must have ended after it.
	Advance func(d time.Duration)
	// JobDuration is how far to advance for a job to end.
	JobDuration time.Duration
	// UnknownInstanceID is a well-formed id of an instance the cloud does not
	// have, for the same product as Backup.
	UnknownInstanceID string
	// Failing, when set, is a backup whose job ends Failed (with a Detail).
	Failing *provider.Spec
	// Busy, when set, is a backup whose Start answers "instance busy"
	// (apierr.RetryLater).
	Busy *provider.Spec
	// Kinds are more valid backups, one per instance kind that changes the
	// method or the lookup (Basic edition, cloud disk, TDE, single-database
	// files, an explicit method); each runs the whole lifecycle, so a
	// redelivery must adopt the job whatever its kind.
	Kinds []provider.Spec
	// Calls, when set, counts the API requests the emulator has received; the
	// suite uses it to prove invalid input fails before any call.
	Calls func() int
}

// Run runs every check that the harness supports as sub-tests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Provider == nil || h.Advance == nil || h.JobDuration <= 0 {
		t.Fatal("providertest: Harness needs Provider, Advance and a positive JobDuration")
	}
	t.Run("BackupLifecycle", func(t *testing.T) { lifecycle(t, h, named(h.Backup, "lc")) })
	for i, k := range h.Kinds {
		t.Run("KindLifecycle/"+k.InstanceID+"/"+k.Method, func(t *testing.T) { lifecycle(t, h, named(k, "k"+string(rune('a'+i)))) })
	}
	t.Run("FindUnused", func(t *testing.T) { findUnused(t, h, named(h.Backup, "unused")) })
	t.Run("InvalidInput", func(t *testing.T) { invalidInput(t, h) })
	t.Run("BadRef", func(t *testing.T) { badRef(t, h) })
	t.Run("UnknownInstance", func(t *testing.T) { unknownInstance(t, h) })
	if h.Failing != nil {
		t.Run("FailingJob", func(t *testing.T) { failing(t, h, named(*h.Failing, "fail")) })
	}
	if h.Busy != nil {
		t.Run("BusyInstance", func(t *testing.T) { busy(t, h, named(*h.Busy, "busy")) })
	}
	if h.Import != nil {
		t.Run("ImportLifecycle", func(t *testing.T) { lifecycle(t, h, named(*h.Import, "imp")) })
		t.Run("ImportFindUnused", func(t *testing.T) { findUnused(t, h, named(*h.Import, "unused")) })
	}
}

// named gives each sub-test its own job name so Find cannot see another
// sub-test's job.
func named(s provider.Spec, suffix string) provider.Spec {
	s.Databases = append([]string(nil), s.Databases...)
	s.Tables = append([]provider.Table(nil), s.Tables...)
	s.Name = s.Name + "-" + suffix
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func checkRef(t *testing.T, ref provider.Ref) {
	t.Helper()
	if ref == "" {
		t.Fatal("Ref is empty")
	}
	if len(ref) > 200 {
		t.Errorf("Ref %q is %d bytes; it travels in messages, keep it short", ref, len(ref))
	}
	for _, r := range string(ref) {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			t.Fatalf("Ref %q holds %q; want printable ASCII without spaces", ref, r)
		}
	}
}

// lifecycle: Start → Running; Find sees the running job; time passes →
// Succeeded; Find then returns a Ref whose Status agrees. Status and Find get
// the spec without SourceURL, as the polling function does.
func lifecycle(t *testing.T, h Harness, start provider.Spec) {
	c := ctx(t)
	p := h.Provider
	ref, err := p.Start(c, start)
	if err != nil {
		t.Fatalf("Start(%s %s): %v", start.InstanceID, start.Name, err)
	}
	// Later steps run in other functions and get the spec from a message,
	// where SourceURL (a secret) is never serialised.
	spec := start
	spec.SourceURL = ""
	checkRef(t, ref)
	st, err := p.Status(c, spec, ref)
	if err != nil {
		t.Fatalf("Status(%s) right after Start: %v", ref, err)
	}
	if st.State != provider.Running {
		t.Errorf("Status(%s) right after Start = %v (%q); want running", ref, st.State, st.Detail)
	}

	// A redelivered message looks before it creates: the running job must be
	// visible by name already.
	fref, found, err := p.Find(c, spec)
	if err != nil {
		t.Fatalf("Find(%s) while running: %v", spec.Name, err)
	}
	if !found {
		t.Fatalf("Find(%s) while running: not found; a redelivery would start a second job", spec.Name)
	}
	checkRef(t, fref)
	if fst, err := p.Status(c, spec, fref); err != nil {
		t.Fatalf("Status(%s) of the found running job: %v", fref, err)
	} else if fst.State == provider.Failed {
		t.Errorf("Status(%s) of the found running job = failed (%q)", fref, fst.Detail)
	}

	h.Advance(h.JobDuration)
	st, err = p.Status(c, spec, ref)
	if err != nil {
		t.Fatalf("Status(%s) after the job's duration: %v", ref, err)
	}
	if st.State != provider.Succeeded {
		t.Fatalf("Status(%s) after the job's duration = %v (%q); want succeeded", ref, st.State, st.Detail)
	}

	fref, found, err = p.Find(c, spec)
	if err != nil || !found {
		t.Fatalf("Find(%s) after success = %q, %v, %v; want found", spec.Name, fref, found, err)
	}
	checkRef(t, fref)
	fst, err := p.Status(c, spec, fref)
	if err != nil {
		t.Fatalf("Status(%s) of the found job: %v", fref, err)
	}
	if fst.State != provider.Succeeded {
		t.Errorf("Status(%s) of the found job = %v (%q); want succeeded like %s", fref, fst.State, fst.Detail, ref)
	}
}

func findUnused(t *testing.T, h Harness, spec provider.Spec) {
	ref, found, err := h.Provider.Find(ctx(t), spec)
	if err != nil {
		t.Fatalf("Find(%s) of an unused name: %v; want no error", spec.Name, err)
	}
	if found {
		t.Fatalf("Find(%s) of an unused name = %q, found; want not found", spec.Name, ref)
	}
}

func invalidInput(t *testing.T, h Harness) {
	bad := func(mut func(*provider.Spec)) provider.Spec {
		s := named(h.Backup, "inv")
		mut(&s)
		return s
	}
	cases := []struct {
		name string
		spec provider.Spec
	}{
		{"bad instance id", bad(func(s *provider.Spec) { s.InstanceID = "not an id" })},
		{"empty instance id", bad(func(s *provider.Spec) { s.InstanceID = "" })},
		{"illegal name", bad(func(s *provider.Spec) { s.Name = "bad name!" })},
		{"empty name", bad(func(s *provider.Spec) { s.Name = "" })},
		{"unknown op", bad(func(s *provider.Spec) { s.Op = "drop" })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ctx(t)
			before := calls(h)
			if _, err := h.Provider.Start(c, tc.spec); !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("Start: err = %v; want apierr.ErrInvalidInput", err)
			}
			if _, _, err := h.Provider.Find(c, tc.spec); !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("Find: err = %v; want apierr.ErrInvalidInput", err)
			}
			if _, err := h.Provider.Status(c, tc.spec, "backup/1"); !errors.Is(err, apierr.ErrInvalidInput) {
				t.Errorf("Status: err = %v; want apierr.ErrInvalidInput", err)
			}
			if after := calls(h); after != before {
				t.Errorf("invalid input made %d API calls; want none", after-before)
			}
		})
	}
}

// badRef: a Ref no Start could have produced is rejected as invalid input,
// not sent to the cloud.
func badRef(t *testing.T, h Harness) {
	spec := named(h.Backup, "ref")
	for _, ref := range []provider.Ref{"", "nonsense", "backup/", "zzz/1/2/3"} {
		before := calls(h)
		if _, err := h.Provider.Status(ctx(t), spec, ref); !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("Status(%q): err = %v; want apierr.ErrInvalidInput", ref, err)
		}
		if after := calls(h); after != before {
			t.Errorf("Status(%q) made %d API calls; want none", ref, after-before)
		}
	}
}

func unknownInstance(t *testing.T, h Harness) {
	if h.UnknownInstanceID == "" {
		t.Skip("no UnknownInstanceID in the harness")
	}
	spec := named(h.Backup, "unk")
	spec.InstanceID = h.UnknownInstanceID
	_, err := h.Provider.Start(ctx(t), spec)
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("Start on unknown instance: err = %v (%T); want an *apierr.Error", err, err)
	}
	if ae.Kind != apierr.Permanent || apierr.KindOf(err) != apierr.Permanent {
		t.Errorf("Start on unknown instance: kind %v; want permanent (code %s)", ae.Kind, ae.Code)
	}
	if ae.Code == "" || ae.RequestID == "" {
		t.Errorf("Start on unknown instance: code %q, request id %q; want both from the cloud", ae.Code, ae.RequestID)
	}
	if errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("Start on unknown instance: a well-formed id was rejected locally: %v", err)
	}
}

func failing(t *testing.T, h Harness, spec provider.Spec) {
	c := ctx(t)
	ref, err := h.Provider.Start(c, spec)
	if err != nil {
		t.Fatalf("Start(%s): %v", spec.InstanceID, err)
	}
	checkRef(t, ref)
	h.Advance(h.JobDuration)
	st, err := h.Provider.Status(c, spec, ref)
	if err != nil {
		t.Fatalf("Status(%s): %v", ref, err)
	}
	if st.State != provider.Failed {
		t.Fatalf("Status(%s) of a failing job = %v; want failed", ref, st.State)
	}
	if st.Detail == "" {
		t.Errorf("Status(%s) of a failing job has no Detail; the notification needs one", ref)
	}
}

func busy(t *testing.T, h Harness, spec provider.Spec) {
	_, err := h.Provider.Start(ctx(t), spec)
	if err == nil {
		t.Fatalf("Start on a busy instance succeeded; want a retry-later error")
	}
	if k := apierr.KindOf(err); k != apierr.RetryLater {
		t.Errorf("Start on a busy instance: kind %v (%v); want retry-later", k, err)
	}
}

func calls(h Harness) int {
	if h.Calls == nil {
		return 0
	}
	return h.Calls()
}
