package tcmysql

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

var _ provider.Expirer = (*Provider)(nil)

// beijing is the zone of cdb's zone-less times in Chinese regions
// (facts/database-apis.md §9).
var beijing = time.FixedZone("UTC+8", 8*60*60)

// Backups lists every backup DescribeBackups shows for the instance,
// automatic ones included (Manual false).
func (p *Provider) Backups(ctx context.Context, spec provider.Spec) ([]provider.CloudBackup, error) {
	if spec.Product != provider.MySQL {
		return nil, apierr.Invalid("tcmysql: product %q is not %s", spec.Product, provider.MySQL)
	}
	if err := provider.ValidateInstanceID(provider.MySQL, spec.InstanceID); err != nil {
		return nil, fmt.Errorf("tcmysql: %w", err)
	}
	var out []provider.CloudBackup
	err := p.backups(ctx, spec, func(b *BackupInfo) bool {
		out = append(out, cloudBackup(spec.InstanceID, b))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("tcmysql: list backups of %s: %w", spec.InstanceID, err)
	}
	return out, nil
}

func cloudBackup(instance string, b *BackupInfo) provider.CloudBackup {
	cb := provider.CloudBackup{ID: strconv.FormatInt(b.BackupId, 10), Instance: b.InstanceId, Name: b.ManualBackupName,
		Manual: b.Way == "manual", State: statusOf(b).State, Size: b.Size}
	if cb.Instance == "" {
		cb.Instance = instance
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", b.StartTime, beijing); err == nil {
		cb.Created = t.UTC()
	}
	return cb
}

// Delete deletes manual backups one DeleteBackup call each. The cloud
// deletes asynchronously: a deleted backup is listed until it is gone. A
// backup already gone (the cloud refuses the id, and no longer lists it)
// counts as deleted, so a repeated delete after a crash is harmless.
func (p *Provider) Delete(ctx context.Context, spec provider.Spec, backups []provider.CloudBackup) error {
	for _, b := range backups {
		if !b.Manual {
			return apierr.Invalid("tcmysql: delete backup %s on %s: not a manual backup", b.ID, spec.InstanceID)
		}
		id, err := strconv.ParseInt(b.ID, 10, 64)
		if err != nil || id <= 0 {
			return apierr.Invalid("tcmysql: delete backup %q on %s: not a backup id", b.ID, spec.InstanceID)
		}
		var resp DeleteBackupResponse
		err = p.call(ctx, spec.Region, "DeleteBackup", DeleteBackupRequest{InstanceId: spec.InstanceID, BackupId: id}, &resp)
		if err == nil {
			continue
		}
		if apierr.KindOf(err) == apierr.Permanent && apierr.Code(err) != "OperationDenied.UserHasNoStrategy" {
			gone, lerr := p.gone(ctx, spec, id)
			if lerr == nil && gone {
				continue
			}
		}
		return fmt.Errorf("tcmysql: delete backup %d on %s: %w", id, spec.InstanceID, err)
	}
	return nil
}

func (p *Provider) gone(ctx context.Context, spec provider.Spec, id int64) (bool, error) {
	gone := true
	err := p.backups(ctx, spec, func(b *BackupInfo) bool {
		if b.BackupId == id {
			gone = false
			return false
		}
		return true
	})
	return gone, err
}
