package huaweirds

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/secret"
)

// SDK operation names, used as apierr.Error.Action.
const (
	actionCreate        = "CreateManualBackup"
	actionListBackups   = "ListBackups"
	actionListInstances = "ListInstances"
)

const (
	pageSize = 100 // the documented maximum of both list APIs
	// maxPages bounds paging loops so a cloud that keeps answering full
	// pages cannot hold an invocation forever.
	maxPages = 1000
	// refPrefix starts every Ref this provider hands out.
	refPrefix = "backup/"
)

// validBackupID is what a backup id may look like: UUIDs in the docs, 32
// hex plus a suffix in the console — a letter or digit, then up to 63
// letters, digits or dashes. Anything else cannot have come from Start.
// Checked by hand: its pattern was compiled in the first invocation that
// created or expired a Huawei backup.
func validBackupID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !lowerOrDigit(c) && (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	return true
}

// userAgent names the product to the cloud (signed, like every header).
const userAgent = "backupflow-huaweirds"

// Provider backs up Huawei Cloud RDS instances. Safe for concurrent use.
type Provider struct {
	hc       *http.Client
	timeout  time.Duration
	endpoint string
	project  string
	ak       string
	sk       secret.String
	region   string
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error // nil: a timer
}

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Discoverer = (*Provider)(nil)
	_ provider.Describer  = (*Provider)(nil)
)

// New checks the configuration and does no I/O: the project id is given,
// so nothing asks IAM, and the endpoint is fixed here.
func New(cfg Config) (*Provider, error) {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	ep, err := endpointURL(cfg.Endpoint, cfg.Region)
	if err != nil {
		return nil, err
	}
	// A nil Transport is http.DefaultTransport at call time, so a process
	// hook on it (the crash soak's) sees Huawei calls too.
	// The timeout is a context deadline per exchange (do), not the
	// client's Timeout: over a transport net/http does not know, that costs
	// a goroutine and a timer per request.
	return &Provider{hc: &http.Client{Transport: cfg.Transport}, timeout: cfg.Timeout, endpoint: ep, project: cfg.ProjectID,
		ak: cfg.AK, sk: cfg.SK, region: cfg.Region, now: cfg.Now, sleep: cfg.Sleep}, nil
}

func check(spec provider.Spec) error {
	if spec.Product != provider.HuaweiRDS {
		return apierr.Invalid("huaweirds: product %q is not %s", spec.Product, provider.HuaweiRDS)
	}
	if spec.Op != provider.Backup {
		return apierr.Invalid("huaweirds: op %q: only backups are supported", spec.Op)
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("huaweirds: %w", err)
	}
	return nil
}

// Start creates a manual backup named spec.Name. It is not idempotent:
// call Find first. A duplicate name answers 409 DBS.201209 (Permanent);
// the caller resolves it with Find.
func (p *Provider) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	if err := check(spec); err != nil {
		return "", err
	}
	body := createBody{InstanceID: spec.InstanceID, Name: spec.Name, Description: spec.Description,
		Individually: spec.Individually}
	for _, n := range spec.Databases {
		body.Databases = append(body.Databases, backupDatabase{Name: n})
	}
	var resp createAnswer
	if err := p.do(ctx, actionCreate, http.MethodPost, "/backups", nil, body, &resp); err != nil {
		return "", err
	}
	if resp.Backup == nil || !validBackupID(resp.Backup.ID) {
		// The backup may exist: the caller must look before retrying.
		e := apierr.New(apierr.Huawei, "rds", actionCreate, "", "answer without a usable backup id", "", 200, nil)
		e.Kind = apierr.RetryAfterLookup
		return "", e
	}
	return provider.Ref(refPrefix + resp.Backup.ID), nil
}

func parseRef(ref provider.Ref) (string, error) {
	id, ok := strings.CutPrefix(string(ref), refPrefix)
	if !ok || !validBackupID(id) {
		return "", apierr.Invalid("huaweirds: ref %q is not backup/<backup id>", ref)
	}
	return id, nil
}

// Status reads the backup's status: COMPLETED is success, FAILED and
// DELETING failure, anything else (BUILDING, or not listed yet) still running. Huawei gives
// no progress figure and no failure reason, so Detail holds the raw status.
func (p *Provider) Status(ctx context.Context, spec provider.Spec, ref provider.Ref) (provider.Status, error) {
	if err := check(spec); err != nil {
		return provider.Status{}, err
	}
	id, err := parseRef(ref)
	if err != nil {
		return provider.Status{}, err
	}
	var resp backupsAnswer
	q := url.Values{"instance_id": {spec.InstanceID}, "backup_id": {id}}
	if err := p.do(ctx, actionListBackups, http.MethodGet, "/backups", q, nil, &resp); err != nil {
		return provider.Status{}, err
	}
	st := provider.Status{State: provider.Running, Progress: -1, BackupID: id, Detail: "not listed yet"}
	for _, b := range resp.Backups {
		if b.ID != id {
			continue
		}
		raw := b.Status
		st.Detail = raw
		switch raw {
		case "COMPLETED":
			st.State, st.Progress = provider.Succeeded, 100
		case "FAILED":
			st.State, st.Detail = provider.Failed, "backup "+id+" ended FAILED"
		case "DELETING":
			// Someone deleted it: it will never complete, so waiting for
			// the deadline would only hide the reason.
			st.State, st.Detail = provider.Failed, "backup "+id+" is being deleted (DELETING)"
		}
		return st, nil
	}
	return st, nil
}

// Find looks for a manual backup named spec.Name on the instance, paging
// through ListBackups. Names are unique per instance, so the first match is
// the one.
func (p *Provider) Find(ctx context.Context, spec provider.Spec) (provider.Ref, bool, error) {
	if err := check(spec); err != nil {
		return "", false, err
	}
	for page, offset := 0, int32(0); page < maxPages; page++ {
		q := pageQuery(offset, pageSize)
		q.Set("instance_id", spec.InstanceID)
		q.Set("backup_type", "manual")
		var resp backupsAnswer
		if err := p.do(ctx, actionListBackups, http.MethodGet, "/backups", q, nil, &resp); err != nil {
			return "", false, err
		}
		if len(resp.Backups) == 0 {
			return "", false, nil
		}
		for _, b := range resp.Backups {
			if b.Name == spec.Name && validBackupID(b.ID) {
				return provider.Ref(refPrefix + b.ID), true, nil
			}
		}
		offset += int32(len(resp.Backups))
		if resp.TotalCount == nil || offset >= *resp.TotalCount {
			return "", false, nil
		}
	}
	return "", false, fmt.Errorf("huaweirds: find %s on %s: more than %d pages of backups", spec.Name, spec.InstanceID, maxPages)
}
