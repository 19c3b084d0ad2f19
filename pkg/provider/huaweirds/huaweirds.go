package huaweirds

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	rds "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/rds/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/rds/v3/model"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
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

// backupIDRE is what a backup id may look like: UUIDs in the docs, 32 hex
// plus a suffix in the console. Anything else cannot have come from Start.
var backupIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`) })

// Provider backs up Huawei Cloud RDS instances. Safe for concurrent use.
type Provider struct {
	// client is built on first use: the SDK's builders cost more than the
	// rest of a function's wiring, and most invocations (a drain with
	// nothing for Huawei, an empty poll) never call Huawei at all.
	client func() (*rds.RdsClient, error)
	region string
	now    func() time.Time
}

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Discoverer = (*Provider)(nil)
	_ provider.Describer  = (*Provider)(nil)
)

// New checks the configuration; the SDK client is built on the first call.
// Neither does I/O: the project id is given, so the SDK never asks IAM, and
// an endpoint is always set explicitly, so WithRegion (which would replace
// it) is never used.
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
	build := func() (*rds.RdsClient, error) {
		cred, err := basic.NewCredentialsBuilder().WithAk(cfg.AK).WithSk(cfg.SK.Reveal()).WithProjectId(cfg.ProjectID).SafeBuild()
		if err != nil {
			// The SDK's message names fields, never values; keep it anyway out of
			// caution and say only what failed.
			return nil, errors.New("huaweirds: the SDK rejected the credentials")
		}
		hc, err := rds.RdsClientBuilder().
			WithEndpoints([]string{ep}).
			WithCredential(cred).
			WithHttpConfig(config.DefaultHttpConfig().WithTimeout(cfg.Timeout)).
			SafeBuild()
		if err != nil {
			return nil, fmt.Errorf("huaweirds: build rds client: %w", err)
		}
		return rds.NewRdsClient(hc), nil
	}
	return &Provider{client: sync.OnceValues(build), region: cfg.Region, now: cfg.Now}, nil
}

// call runs one SDK request. The SDK takes no context, so the request runs
// on its own goroutine and ctx only stops the wait; the HTTP timeout ends
// the abandoned request. X-Sdk-Date comes from the injected clock so the
// signature agrees with an emulator running on virtual time.
func (p *Provider) call(ctx context.Context, action string, invoke func(c *rds.RdsClient, headers map[string]string) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("huaweirds %s: %w", action, err)
	}
	client, err := p.client()
	if err != nil {
		return nil, err
	}
	headers := map[string]string{"X-Sdk-Date": p.now().UTC().Format("20060102T150405Z")}
	type result struct {
		resp any
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := invoke(client, headers)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, wrap(action, r.err)
		}
		return r.resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("huaweirds %s: %w", action, ctx.Err())
	}
}

// wrap turns an SDK service error into an *apierr.Error classified by code
// and HTTP status. Transport errors keep their type (apierr.KindOf reads
// them as ambiguous) and only gain context.
func wrap(action string, err error) error {
	var se *sdkerr.ServiceResponseError
	if errors.As(err, &se) {
		msg := se.ErrorMessage
		if se.ErrorCode == "" && len(msg) > 200 {
			// A gateway page, not an API answer: keep the log line short.
			msg = msg[:200] + "..."
		}
		e := apierr.New(apierr.Huawei, "rds", action, se.ErrorCode, msg, se.RequestId, se.StatusCode, err)
		e.Kind = apierr.ClassifyHTTP(apierr.Huawei, se.ErrorCode, se.StatusCode)
		return e
	}
	return fmt.Errorf("huaweirds %s: %w", action, err)
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
	body := &model.CreateManualBackupRequestBody{InstanceId: spec.InstanceID, Name: spec.Name}
	if spec.Description != "" {
		d := spec.Description
		body.Description = &d
	}
	if len(spec.Databases) > 0 {
		dbs := make([]model.BackupDatabase, len(spec.Databases))
		for i, n := range spec.Databases {
			dbs[i] = model.BackupDatabase{Name: n}
		}
		body.Databases = &dbs
	}
	if spec.Individually {
		yes := true
		body.BackupDatabaseIndividually = &yes
	}
	req := &model.CreateManualBackupRequest{Body: body}
	out, err := p.call(ctx, actionCreate, func(c *rds.RdsClient, h map[string]string) (any, error) {
		return c.CreateManualBackupInvoker(req).AddHeaders(h).Invoke()
	})
	if err != nil {
		return "", err
	}
	resp, _ := out.(*model.CreateManualBackupResponse)
	if resp == nil || resp.Backup == nil || !backupIDRE().MatchString(resp.Backup.Id) {
		// The backup may exist: the caller must look before retrying.
		e := apierr.New(apierr.Huawei, "rds", actionCreate, "", "answer without a usable backup id", "", 200, nil)
		e.Kind = apierr.RetryAfterLookup
		return "", e
	}
	return provider.Ref(refPrefix + resp.Backup.Id), nil
}

func parseRef(ref provider.Ref) (string, error) {
	id, ok := strings.CutPrefix(string(ref), refPrefix)
	if !ok || !backupIDRE().MatchString(id) {
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
	req := &model.ListBackupsRequest{InstanceId: spec.InstanceID, BackupId: &id}
	out, err := p.call(ctx, actionListBackups, func(c *rds.RdsClient, h map[string]string) (any, error) {
		return c.ListBackupsInvoker(req).AddHeaders(h).Invoke()
	})
	if err != nil {
		return provider.Status{}, err
	}
	st := provider.Status{State: provider.Running, Progress: -1, BackupID: id, Detail: "not listed yet"}
	resp, _ := out.(*model.ListBackupsResponse)
	if resp == nil || resp.Backups == nil {
		return st, nil
	}
	for _, b := range *resp.Backups {
		if b.Id != id {
			continue
		}
		raw := b.Status.Value()
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
	manual := model.GetListBackupsRequestBackupTypeEnum().MANUAL
	limit := int32(pageSize)
	for page, offset := 0, int32(0); page < maxPages; page++ {
		off := offset
		req := &model.ListBackupsRequest{InstanceId: spec.InstanceID, BackupType: &manual, Offset: &off, Limit: &limit}
		out, err := p.call(ctx, actionListBackups, func(c *rds.RdsClient, h map[string]string) (any, error) {
			return c.ListBackupsInvoker(req).AddHeaders(h).Invoke()
		})
		if err != nil {
			return "", false, err
		}
		resp, _ := out.(*model.ListBackupsResponse)
		if resp == nil || resp.Backups == nil || len(*resp.Backups) == 0 {
			return "", false, nil
		}
		for _, b := range *resp.Backups {
			if b.Name == spec.Name && backupIDRE().MatchString(b.Id) {
				return provider.Ref(refPrefix + b.Id), true, nil
			}
		}
		offset += int32(len(*resp.Backups))
		if resp.TotalCount == nil || offset >= *resp.TotalCount {
			return "", false, nil
		}
	}
	return "", false, fmt.Errorf("huaweirds: find %s on %s: more than %d pages of backups", spec.Name, spec.InstanceID, maxPages)
}
