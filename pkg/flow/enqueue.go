package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Request is an on-demand job from chat or the CLI.
type Request struct {
	// ID identifies the cause (e.g. "chat", platform, message id); the same ID
	// always maps to the same job.
	ID []string
	// JobID, when set, is used as the job id as is (chat derives its own
	// from the platform's message id); it must be 4-40 of [a-z0-9-].
	JobID     string
	Op        provider.Op
	Instance  string
	Method    string
	Databases []string
	// Product options, validated with the spec (provider.Spec).
	KeepUntilGone bool
	RetentionDays int
	Individually  bool
	Object        string // import source: cos://bucket/key, s3://bucket/key or bucket/key
	Origin        job.Origin
}

// Enqueue validates a request and hands its first step to the work queue. It
// returns the job id; a repeated request returns the same id and the
// duplicate message is dropped downstream.
func (s *Service) Enqueue(ctx context.Context, r Request) (string, error) {
	p, ok := provider.ProductOf(r.Instance)
	if !ok {
		return "", apierr.Invalid("instance %q: unknown id shape (want cdb-…, mssql-…, cmgo-… or a Huawei RDS id)", r.Instance)
	}
	if err := provider.ValidateInstanceID(p, r.Instance); err != nil {
		return "", err
	}
	id := r.JobID
	switch {
	case id != "":
		if !jobIDShape().MatchString(id) {
			return "", apierr.Invalid("job id %q: want 4-40 of a-z, 0-9 and -", id)
		}
	case len(r.ID) == 0:
		return "", apierr.Invalid("request has no id")
	default:
		id = job.NewID(r.ID...)
	}
	m := job.Message{
		JobID: id, Step: job.StepCreate, Created: s.d.Now(), Origin: r.Origin,
		Spec: provider.Spec{Op: r.Op, Product: p, InstanceID: r.Instance, Name: job.Name(id), Method: r.Method, Databases: r.Databases,
			KeepUntilGone: r.KeepUntilGone, RetentionDays: r.RetentionDays, Individually: r.Individually},
	}
	if r.Op == provider.Backup {
		m.Spec.RetentionDays = s.cfg.mongoRetentionDays(p, r.Instance, r.RetentionDays, nil)
	}
	if r.Op == provider.Import {
		obj, err := ParseObject(r.Object)
		if err != nil {
			return "", err
		}
		m.Object = &obj
		m.Spec.SourceURL = "pending" // validated shape only; presigned when the step runs
	}
	if err := m.Spec.Validate(); err != nil {
		return "", err
	}
	m.Spec.SourceURL = ""
	// Idempotent per job id: a state record is written only after the
	// first send succeeded, so a job that has one is already on its way (or
	// done). Sending again would reset its status to "queued"; a send that
	// failed after landing left no record and is sent again, which the
	// steps' claims make harmless.
	if _, known, err := s.d.Ledger.Get(ctx, keyState(id)); err != nil {
		return "", wrapLedger(err)
	} else if known {
		return id, nil
	}
	if err := s.send(ctx, m, 0); err != nil {
		return "", err
	}
	s.putState(ctx, m, "queued")
	return id, nil
}

var jobIDShape = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{3,39}$`) })

// ParseObject reads cos://bucket/key, s3://bucket/key or bucket/key.
func ParseObject(s string) (job.Object, error) {
	platform := "cos"
	rest := s
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		switch u.Scheme {
		case "cos", "s3":
			platform = u.Scheme
			rest = u.Host + u.Path
		default:
			return job.Object{}, apierr.Invalid("object %q: want cos://bucket/key, s3://bucket/key or bucket/key", s)
		}
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return job.Object{}, apierr.Invalid("object %q: want bucket/key", s)
	}
	return job.Object{Platform: platform, Bucket: bucket, Key: key}, nil
}

// State returns the last known state of a job.
func (s *Service) State(ctx context.Context, jobID string) (JobState, *Outcome, error) {
	var st JobState
	b, ok, err := s.d.Ledger.Get(ctx, keyState(jobID))
	if err != nil {
		return st, nil, wrapLedger(err)
	}
	if !ok {
		return st, nil, fmt.Errorf("job %s: %w", jobID, ErrUnknownJob)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, fmt.Errorf("job %s: state record: %w", jobID, err)
	}
	ob, ok, err := s.d.Ledger.Get(ctx, keyOutcome(jobID))
	if err != nil || !ok {
		return st, nil, wrapLedger(err)
	}
	var o Outcome
	if err := json.Unmarshal(ob, &o); err != nil {
		return st, nil, fmt.Errorf("job %s: outcome record: %w", jobID, err)
	}
	return st, &o, nil
}

// ErrUnknownJob is returned by State for an id the ledger has never seen.
var ErrUnknownJob = fmt.Errorf("unknown job")

// InstanceJobs returns the most recent jobs recorded for an instance, newest
// first (at most limit). It lists the ledger's job records, so it suits an
// operator's question, not a hot path.
func (s *Service) InstanceJobs(ctx context.Context, instance string, limit int) ([]JobState, error) {
	// The index, not a scan: a status question must not cost a listing of
	// every job the ledger holds. Keys sort newest first.
	keys, err := s.d.Ledger.List(ctx, "instances/"+instance+"/")
	if err != nil {
		return nil, wrapLedger(err)
	}
	var out []JobState
	for _, k := range keys {
		if limit > 0 && len(out) == limit {
			break
		}
		_, id, ok := strings.Cut(strings.TrimPrefix(k, "instances/"+instance+"/"), "-")
		if !ok {
			continue
		}
		st, _, err := s.State(ctx, id)
		if errors.Is(err, ErrUnknownJob) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// keyInstanceJob indexes a job under its instance, newest first: the
// seconds before year 2286 that the job was created, then its id.
func keyInstanceJob(instance string, created time.Time, id string) string {
	var rev int64 = 9999999999
	if !created.IsZero() && created.Unix() > 0 && created.Unix() < rev {
		rev -= created.Unix()
	}
	return fmt.Sprintf("instances/%s/%010d-%s", instance, rev, id)
}
