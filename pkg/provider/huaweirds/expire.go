package huaweirds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

const actionDelete = "DeleteManualBackup"

var _ provider.Expirer = (*Provider)(nil)

// Backups lists every backup ListBackups shows for the instance: manual
// ones (type manual) and the cloud's own (auto, incremental, fragment).
// A backup being deleted is listed DELETING until it is gone.
func (p *Provider) Backups(ctx context.Context, spec provider.Spec) ([]provider.CloudBackup, error) {
	if spec.Product != provider.HuaweiRDS {
		return nil, apierr.Invalid("huaweirds: product %q is not %s", spec.Product, provider.HuaweiRDS)
	}
	if err := provider.ValidateInstanceID(provider.HuaweiRDS, spec.InstanceID); err != nil {
		return nil, fmt.Errorf("huaweirds: %w", err)
	}
	var out []provider.CloudBackup
	for page, offset := 0, int32(0); page < maxPages; page++ {
		q := pageQuery(offset, pageSize)
		q.Set("instance_id", spec.InstanceID)
		var r backupsAnswer
		if err := p.do(ctx, actionListBackups, http.MethodGet, "/backups", q, nil, &r); err != nil {
			return nil, fmt.Errorf("huaweirds: list backups of %s: %w", spec.InstanceID, err)
		}
		if len(r.Backups) == 0 {
			return out, nil
		}
		for _, b := range r.Backups {
			out = append(out, cloudBackup(spec.InstanceID, b))
		}
		offset += int32(len(r.Backups))
		if r.TotalCount == nil || offset >= *r.TotalCount {
			return out, nil
		}
	}
	return nil, fmt.Errorf("huaweirds: list backups of %s: more than %d pages", spec.InstanceID, maxPages)
}

func cloudBackup(instance string, b listedBackup) provider.CloudBackup {
	cb := provider.CloudBackup{ID: b.ID, Instance: b.InstanceID, Name: b.Name, Manual: b.Type == "manual",
		Size: b.Size * 1024}
	if cb.Instance == "" {
		cb.Instance = instance
	}
	switch b.Status {
	case "COMPLETED":
		cb.State = provider.Succeeded
	case "FAILED":
		cb.State = provider.Failed
	case "DELETING":
		cb.State, cb.Deleting = provider.Succeeded, true
	default:
		cb.State = provider.Running
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339} {
		if t, err := time.Parse(layout, b.BeginTime); err == nil {
			cb.Created = t.UTC()
			break
		}
	}
	return cb
}

// Delete deletes manual backups with DeleteManualBackup, one call each.
// The cloud deletes asynchronously (DELETING, then gone); a backup already
// gone (404, and no longer listed) counts as deleted.
func (p *Provider) Delete(ctx context.Context, spec provider.Spec, backups []provider.CloudBackup) error {
	for _, b := range backups {
		if !b.Manual {
			return apierr.Invalid("huaweirds: delete backup %s on %s: not a manual backup", b.ID, spec.InstanceID)
		}
		if !validBackupID(b.ID) {
			return apierr.Invalid("huaweirds: delete backup %q on %s: not a backup id", b.ID, spec.InstanceID)
		}
		err := p.deleteBackup(ctx, b.ID)
		// A 404 may mean the backup or the instance is missing: the
		// backup is gone only when the instance's listing (which fails
		// for a missing instance) no longer shows it.
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.HTTPStatus == 404 {
			if list, lerr := p.Backups(ctx, spec); lerr == nil && !slices.ContainsFunc(list, func(c provider.CloudBackup) bool { return c.ID == b.ID }) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("huaweirds: delete backup %s on %s: %w", b.ID, spec.InstanceID, err)
		}
	}
	return nil
}

// deleteBackup is DELETE /v3/{project_id}/backups/{backup_id}; id has
// passed validBackupID, so it needs no escaping.
func (p *Provider) deleteBackup(ctx context.Context, id string) error {
	return p.do(ctx, actionDelete, http.MethodDelete, "/backups/"+id, nil, nil, nil)
}
