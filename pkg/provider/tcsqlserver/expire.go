package tcsqlserver

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

var _ provider.Expirer = (*Provider)(nil)

const (
	// maxRemove is RemoveBackups' documented limit of file names a call.
	maxRemove = 10
	// retentionWindow is how far back retention lists backups. Find's
	// eight days are far too short: keep-last-N of nightly backups reaches
	// further, and a backup kept until the instance is gone may be years
	// old. DescribeBackups documents no bound on the window.
	retentionWindow = 10 * 366 * 24 * time.Hour
)

// listedBackup is one backup as retention sees it, with the files that
// make it up (one packed file, or one per database).
type listedBackup struct {
	provider.CloudBackup
	files []string
}

// Backups lists every backup DescribeBackups shows for the instance over
// the retention window: scheduled ones (Manual false) and manual ones,
// whoever made them. A packed backup's ID is its Id; single-database
// files carry no Id, so the files of one such backup are listed as one
// backup whose ID is its name (the handle Find gives it).
func (p *Provider) Backups(ctx context.Context, spec provider.Spec) ([]provider.CloudBackup, error) {
	if err := checkInstance(spec); err != nil {
		return nil, err
	}
	list, err := p.listBackups(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("tcsqlserver: list backups of %s: %w", spec.InstanceID, err)
	}
	out := make([]provider.CloudBackup, 0, len(list))
	for _, b := range list {
		out = append(out, b.CloudBackup)
	}
	return out, nil
}

func checkInstance(spec provider.Spec) error {
	if spec.Product != provider.SQLServer {
		return apierr.Invalid("tcsqlserver: product %q is not %s", spec.Product, provider.SQLServer)
	}
	if err := provider.ValidateInstanceID(provider.SQLServer, spec.InstanceID); err != nil {
		return fmt.Errorf("tcsqlserver: %w", err)
	}
	return nil
}

func (p *Provider) listBackups(ctx context.Context, spec provider.Spec) ([]*listedBackup, error) {
	req := p.backupsRequest(spec)
	req.StartTime = p.opts.Now().In(p.opts.Location).Add(-retentionWindow).Format(timeLayout)
	var out []*listedBackup
	groups := map[string]*listedBackup{}
	err := p.backups(ctx, spec, req, func(b *Backup) bool {
		key := "id/" + strconv.FormatUint(b.Id, 10)
		if b.Id == 0 {
			key = "group/" + b.GroupId + "/" + b.BackupName + "/" + b.StartTime
		}
		g := groups[key]
		if g == nil {
			g = &listedBackup{CloudBackup: provider.CloudBackup{ID: strconv.FormatUint(b.Id, 10), Instance: spec.InstanceID,
				Name: b.BackupName, Manual: b.BackupWay == 1, State: provider.Succeeded}}
			if b.Id == 0 {
				g.ID = idlessID(b)
			}
			if t, err := time.ParseInLocation(timeLayout, b.StartTime, p.opts.Location); err == nil {
				g.Created = t.UTC()
			}
			groups[key] = g
			out = append(out, g)
		}
		g.files = append(g.files, b.FileName)
		g.Size += b.Size * 1024
		// A backup is only as done as its least done file.
		switch st, _ := BackupState(b.Status); {
		case st == provider.Failed:
			g.State = provider.Failed
		case st == provider.Running && g.State != provider.Failed:
			g.State = provider.Running
		}
		g.Handle = strings.Join(g.files, ",")
		return true
	})
	return out, err
}

// idlessID names a backup of single-database files: its name when it has
// one (what the ledger records for a backup found by name), else its group.
func idlessID(b *Backup) string {
	switch {
	case b.BackupName != "":
		return b.BackupName
	case b.GroupId != "":
		return b.GroupId
	}
	return b.FileName
}

// Delete removes manual backups with RemoveBackups, at most 10 files a
// call. The files to remove are read from a fresh listing, not taken from
// the caller: only files the cloud lists under that backup's ID, name and
// manual way are removed, so neither a scheduled backup nor one renamed
// since the plan can be removed by mistake. A backup no longer listed is
// already gone, so a repeated delete after a crash is harmless.
func (p *Provider) Delete(ctx context.Context, spec provider.Spec, backups []provider.CloudBackup) error {
	if err := checkInstance(spec); err != nil {
		return err
	}
	for _, b := range backups {
		if !b.Manual || b.ID == "" {
			return apierr.Invalid("tcsqlserver: delete backup %q on %s: not a manual backup", b.ID, spec.InstanceID)
		}
	}
	if len(backups) == 0 {
		return nil
	}
	list, err := p.listBackups(ctx, spec)
	if err != nil {
		return fmt.Errorf("tcsqlserver: delete backups on %s: list: %w", spec.InstanceID, err)
	}
	byID := map[string]*listedBackup{}
	shared := map[string]bool{}
	for _, l := range list {
		// Single-database backups of one name share the ID: which one
		// was meant cannot be told.
		shared[l.ID] = byID[l.ID] != nil
		byID[l.ID] = l
	}
	var files []string
	for _, b := range backups {
		l := byID[b.ID]
		switch {
		case l == nil:
			continue // gone
		case shared[b.ID]:
			return apierr.Invalid("tcsqlserver: delete backup %q on %s: several listed backups answer to it", b.ID, spec.InstanceID)
		case !l.Manual:
			return apierr.Invalid("tcsqlserver: delete backup %s on %s: listed as a scheduled backup", b.ID, spec.InstanceID)
		case l.Name != b.Name:
			return apierr.Invalid("tcsqlserver: delete backup %s on %s: listed as %q, not %q", b.ID, spec.InstanceID, l.Name, b.Name)
		}
		files = append(files, l.files...)
	}
	for len(files) > 0 {
		n := min(len(files), maxRemove)
		batch := files[:n]
		files = files[n:]
		err := p.call(ctx, spec.Region, "RemoveBackups", RemoveBackupsRequest{InstanceId: spec.InstanceID, BackupNames: batch}, &RemoveBackupsResponse{})
		if err == nil {
			continue
		}
		// A refused name may be a file an earlier, unanswered call
		// removed: the batch is done if none of it is listed any more.
		if apierr.KindOf(err) == apierr.Permanent && apierr.Code(err) != "UnauthorizedOperation.PermissionDenied" {
			if gone, lerr := p.filesGone(ctx, spec, batch); lerr == nil && gone {
				continue
			}
		}
		return fmt.Errorf("tcsqlserver: remove backup files %s on %s: %w", strings.Join(batch, ", "), spec.InstanceID, err)
	}
	return nil
}

func (p *Provider) filesGone(ctx context.Context, spec provider.Spec, files []string) (bool, error) {
	list, err := p.listBackups(ctx, spec)
	if err != nil {
		return false, err
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f] = true
	}
	for _, l := range list {
		for _, f := range l.files {
			if want[f] {
				return false, nil
			}
		}
	}
	return true, nil
}
