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
		magic, err := s.d.Objects.ReadMagic(ctx, u.Bucket, u.Key)
		if err != nil {
			return id, fmt.Errorf("read %s/%s: %w", u.Bucket, u.Key, err)
		}
		if err := CheckBackupMagic(magic); err != nil {
			return id, s.finishAndMark(ctx, m, failure(m, apierr.Invalid("%s/%s: %v", u.Bucket, u.Key, err)))
		}
	}
	if err := s.create(ctx, m); err != nil {
		return id, err
	}
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

// CheckBackupMagic accepts the first bytes of a native SQL Server backup:
// "TAPE" (Microsoft Tape Format) or "MSSQLBAK" (compressed or encrypted).
func CheckBackupMagic(b []byte) error {
	switch {
	case len(b) >= 4 && string(b[:4]) == "TAPE":
		return nil
	case len(b) >= 8 && string(b[:8]) == "MSSQLBAK":
		return nil
	case len(b) >= 2 && b[0] == 'P' && b[1] == 'K':
		return errors.New("a zip archive, not a SQL Server backup: upload the .bak itself")
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return errors.New("a gzip file, not a SQL Server backup: upload the .bak itself")
	}
	return fmt.Errorf("not a SQL Server backup (starts with %q; want TAPE or MSSQLBAK)", strings.ToValidUTF8(string(b[:min(len(b), 8)]), "?"))
}
