package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Upload describes an object-created event, platform-neutral.
type Upload struct {
	Platform  string // "cos" | "s3"
	Bucket    string
	Region    string
	Key       string
	ETag      string
	VersionID string
	Size      int64
}

// ErrSkipped marks an upload no import rule matches; it is logged, not failed.
var ErrSkipped = errors.New("no import rule matches")

// Upload starts the import an uploaded backup file asks for. The job id comes
// from bucket, key and the object's version (or ETag), so a COS/S3 event
// delivered twice — or a retried invocation — never starts a second import.
// The first create step runs inline; retries go through the work queue.
func (s *Service) Upload(ctx context.Context, u Upload) (string, error) {
	instance, ok := s.matchImport(u.Bucket, u.Key)
	if !ok {
		s.log.Info("upload skipped: no import rule matches", "bucket", u.Bucket, "key", u.Key)
		return "", ErrSkipped
	}
	if s.d.Objects != nil && (u.ETag == "" && u.VersionID == "") {
		info, err := s.d.Objects.Stat(ctx, u.Bucket, u.Key)
		if err != nil {
			return "", fmt.Errorf("stat %s/%s: %w", u.Bucket, u.Key, err)
		}
		u.ETag, u.VersionID, u.Size = info.ETag, info.VersionID, info.Size
	}
	version := u.VersionID
	if version == "" {
		version = u.ETag
	}
	if version == "" {
		return "", apierr.Invalid("upload %s/%s: neither version id nor ETag known, cannot derive an idempotent job id", u.Bucket, u.Key)
	}
	id := job.NewID("object", u.Bucket, u.Key, version)
	m := job.Message{
		JobID: id, Step: job.StepCreate, Created: s.d.Now(),
		Spec:   provider.Spec{Op: provider.Import, Product: provider.SQLServer, InstanceID: instance, Name: job.Name(id)},
		Object: &job.Object{Platform: u.Platform, Bucket: u.Bucket, Region: u.Region, Key: u.Key, ETag: u.ETag, VersionID: u.VersionID, Size: u.Size},
		Origin: job.Origin{Source: u.Platform},
	}
	ctx = withLogger(ctx, s.log.With("job", id, "step", "create", "seq", 0))
	done, err := s.handled(ctx, m)
	if err != nil || done {
		return id, err
	}
	if s.d.Objects != nil {
		if err := s.d.Objects.CheckBackup(ctx, u.Bucket, u.Key); err != nil {
			if apierr.KindOf(err) != apierr.Permanent {
				return id, fmt.Errorf("read %s/%s: %w", u.Bucket, u.Key, err)
			}
			return id, s.finishAndMark(ctx, m, failure(m, err))
		}
	}
	if err := s.create(ctx, m); err != nil {
		return id, err
	}
	crashPoint("after-handoff")
	return id, s.markHandled(ctx, m)
}

func (s *Service) finishAndMark(ctx context.Context, m job.Message, o Outcome) error {
	if err := s.finish(ctx, m, o); err != nil {
		return err
	}
	return s.markHandled(ctx, m)
}

func (s *Service) matchImport(bucket, key string) (string, bool) {
	for _, r := range s.cfg.ImportRules {
		if id, ok := r.Match(bucket, key); ok {
			return id, true
		}
	}
	return "", false
}

// objectChanged starts the failure of an import whose object is no longer
// the upload that caused it.
const objectChanged = "object changed"

// checkPinned holds an import to the upload it was caused by. Its job id
// comes from the object's version (or ETag), but the cloud downloads
// whatever the key holds at the start: if the file was replaced since (a
// late or retried event), this job would import the replacement — which
// has its own job — and its own upload would never be imported. It fails
// instead, permanently, naming both. A job without a recorded ETag or
// version (chat and CLI imports name only the key) imports what is there.
func (s *Service) checkPinned(ctx context.Context, m job.Message) error {
	o := m.Object
	if m.Spec.Op != provider.Import || o == nil || (o.ETag == "" && o.VersionID == "") || s.d.Objects == nil {
		return nil
	}
	info, err := s.d.Objects.Stat(ctx, o.Bucket, o.Key)
	if err != nil {
		if apierr.KindOf(err) == apierr.Permanent {
			return apierr.Invalid("%s/%s: %v: %v (this import was for the upload with ETag %s)", o.Bucket, o.Key, objectChanged, err, o.ETag)
		}
		return fmt.Errorf("stat %s/%s: %w", o.Bucket, o.Key, err)
	}
	same := func(a, b string) bool { return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`)) }
	switch {
	case o.VersionID != "" && info.VersionID != "" && o.VersionID != info.VersionID:
		return apierr.Invalid("%s/%s: %v: it is now version %s, this import was for version %s; the newer upload is imported by its own job",
			o.Bucket, o.Key, objectChanged, info.VersionID, o.VersionID)
	case o.ETag != "" && info.ETag != "" && !same(o.ETag, info.ETag):
		return apierr.Invalid("%s/%s: %v: its ETag is now %s, this import was for %s; the newer upload is imported by its own job",
			o.Bucket, o.Key, objectChanged, strings.Trim(info.ETag, `"`), strings.Trim(o.ETag, `"`))
	}
	return nil
}

// RerunImport is the request that imports an ended import job's object
// again, on purpose: an upload of identical bytes keeps its ETag and so its
// job id, and is dropped as a duplicate, which is right for a redelivered
// event and wrong for a user who wants the import done again. The new job
// imports what the key holds now (it is not pinned); the caller gives it
// its own cause (ID or JobID) and origin. A job that has not ended is
// refused: its own run may still succeed.
func (s *Service) RerunImport(ctx context.Context, jobID string) (Request, error) {
	st, out, err := s.State(ctx, jobID)
	if errors.Is(err, ErrUnknownJob) {
		return Request{}, apierr.Invalid("rerun: no job %s is known", jobID)
	}
	if err != nil {
		return Request{}, err
	}
	if st.Spec.Op != provider.Import {
		return Request{}, apierr.Invalid("rerun: job %s is a %s, not an import; start a new backup instead", jobID, st.Spec.Op)
	}
	if out == nil {
		return Request{}, apierr.Invalid("rerun: job %s has not ended (%s); wait for its outcome", jobID, st.State)
	}
	if out.Object == "" {
		return Request{}, fmt.Errorf("rerun: job %s: its outcome names no object", jobID)
	}
	return Request{Op: provider.Import, Instance: out.Instance, Object: out.Object}, nil
}
