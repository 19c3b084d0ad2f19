package tcmongodb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	service  = "mongodb"
	version  = "2019-07-25"
	pageSize = 100
	maxPages = 1000
)

// Options configure a Provider.
type Options struct {
	// Region is used when a spec names none.
	Region string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Provider backs up TencentDB for MongoDB instances. Safe for concurrent use.
type Provider struct {
	c    *tencent.Client
	opts Options
}

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Discoverer = (*Provider)(nil)
	_ provider.Describer  = (*Provider)(nil)
)

// New returns a Provider sending through c.
func New(c *tencent.Client, opts Options) *Provider {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Provider{c: c, opts: opts}
}

func (p *Provider) call(ctx context.Context, region, action string, req, resp any) error {
	if region == "" {
		region = p.opts.Region
	}
	return p.c.Call(ctx, tencent.Action{Service: service, Version: version, Name: action, Region: region}, req, resp)
}

// read is call for the discovery's reads, which retry transient failures
// (tencent.Client.Read): one fault among a fleet's reads must not end the
// night's fan-out.
func (p *Provider) read(ctx context.Context, region, action string, req, resp any) error {
	if region == "" {
		region = p.opts.Region
	}
	return p.c.Read(ctx, tencent.Action{Service: service, Version: version, Name: action, Region: region}, req, resp)
}

func check(spec provider.Spec) error {
	if spec.Product != provider.MongoDB {
		return apierr.Invalid("tcmongodb: product %q is not %s", spec.Product, provider.MongoDB)
	}
	if spec.Op != provider.Backup {
		return apierr.Invalid("tcmongodb: op %q: only backups are supported", spec.Op)
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("tcmongodb: %w", err)
	}
	return nil
}

// Method is CreateBackupDBInstance's BackupMethod for a spec's method.
func Method(method string) int64 {
	switch method {
	case "physical":
		return 1
	case "snapshot":
		return 3
	}
	return 0 // logical, the default
}

// Methods are the backup methods an instance can take, the default first
// (facts/database-apis.md §3.1): local-disk instances logical and physical,
// cloud-disk (MachineType HCD) instances physical and snapshot, and
// transparent data encryption rules out physical. Logical stays the default
// where it is possible because it was the adapter's default before kinds
// were told apart; on cloud disk physical is preferred to snapshot because
// it leaves a backup file, not a disk snapshot.
func Methods(machineType string, tde bool) (methods []string, kind string) {
	hcd := strings.EqualFold(machineType, "HCD")
	switch {
	case hcd && tde:
		return []string{"snapshot"}, "cloud disk with transparent data encryption"
	case hcd:
		return []string{"physical", "snapshot"}, "cloud disk"
	case tde:
		return []string{"logical"}, "transparent data encryption"
	}
	return []string{"logical", "physical"}, "local disk"
}

// Start creates a manual backup with BackupRemark spec.Name; the Ref is
// "async/<AsyncRequestId>". With no method it first reads the instance's
// kind and takes its default method, so a one-off backup of a cloud-disk
// instance works without naming one.
func (p *Provider) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	if err := check(spec); err != nil {
		return "", err
	}
	if spec.Method == "" {
		methods, err := p.methodsOf(ctx, spec.Region, spec.InstanceID)
		if err != nil {
			return "", fmt.Errorf("tcmongodb: create backup %s: %w", spec.InstanceID, err)
		}
		spec.Method = methods[0]
	}
	req := CreateBackupDBInstanceRequest{InstanceId: spec.InstanceID, BackupMethod: Method(spec.Method), BackupRemark: spec.Name,
		BackupRetentionDays: int64(spec.RetentionDays)}
	var resp CreateBackupDBInstanceResponse
	if err := p.call(ctx, spec.Region, "CreateBackupDBInstance", req, &resp); err != nil {
		if apierr.Code(err) == "FailedOperation.TransparentDataEncryptionAlreadyOpen" {
			return "", fmt.Errorf("tcmongodb: create %s backup %s: transparent data encryption is on, so use logical or snapshot: %w",
				spec.Method, spec.InstanceID, err)
		}
		return "", fmt.Errorf("tcmongodb: create %s backup %s: %w", spec.Method, spec.InstanceID, err)
	}
	if resp.AsyncRequestId == "" {
		// A 200 without the task id may still have started the backup:
		// look it up by remark before trying again.
		return "", apierr.Ambiguous("tcmongodb: create backup %s: the answer has no AsyncRequestId", spec.InstanceID)
	}
	return provider.Ref("async/" + string(resp.AsyncRequestId)), nil
}

// methodsOf reads one instance's kind (MachineType, and TDE where it
// changes the default) and returns its default method. An instance the
// list does not show gets the product default, so the create call reports
// it with the cloud's own code.
func (p *Provider) methodsOf(ctx context.Context, region, id string) ([]string, error) {
	req := DescribeDBInstancesRequest{InstanceIds: []string{id}, ClusterType: -1, Limit: 1}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, region, "DescribeDBInstances", req, &resp); err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	for _, in := range resp.InstanceDetails {
		if in.InstanceId == id {
			m, err := p.defaultMethod(ctx, region, in)
			if err != nil {
				return nil, err
			}
			return []string{m}, nil
		}
	}
	return []string{"logical"}, nil
}

// defaultMethod is Methods' first for a listed instance. Only on cloud
// disk does transparent data encryption change it (physical, else
// snapshot): local disk takes logical either way, so its TDE status is not
// read (one call less per create).
func (p *Provider) defaultMethod(ctx context.Context, region string, d InstanceDetail) (string, error) {
	if !strings.EqualFold(d.MachineType, "HCD") {
		m, _ := Methods(d.MachineType, false)
		return m[0], nil
	}
	in := provider.Instance{Region: region}
	if err := p.kind(ctx, &in, d, false); err != nil {
		return "", err
	}
	return in.Methods[0], nil
}

// DefaultMethods reads the kind of up to provider.MethodBatch instances in
// one DescribeDBInstances call (InstanceIds, Limit up to 100) and returns
// each listed instance's default method, as Start would pick it; a
// cloud-disk instance also costs its TDE read. One whose TDE read fails
// is left out: its create looks it up itself.
func (p *Provider) DefaultMethods(ctx context.Context, region string, ids []string) (map[string]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > provider.MethodBatch {
		return nil, apierr.Invalid("tcmongodb: %d instances in one method lookup; at most %d", len(ids), provider.MethodBatch)
	}
	req := DescribeDBInstancesRequest{InstanceIds: ids, ClusterType: -1, Limit: uint64(len(ids))}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, region, "DescribeDBInstances", req, &resp); err != nil {
		return nil, fmt.Errorf("tcmongodb: default methods of %d instances: %w", len(ids), err)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[string]string, len(ids))
	for _, in := range resp.InstanceDetails {
		if !want[in.InstanceId] {
			continue
		}
		if m, err := p.defaultMethod(ctx, region, in); err == nil {
			out[in.InstanceId] = m
		}
	}
	return out, nil
}

// kind fills in.Methods from the machine type and the TDE status, read
// once (a create's lookup: the flow retries the step) or with discovery's
// retries (retry set: one fault among the fleet's reads must not end the
// fan-out).
func (p *Provider) kind(ctx context.Context, in *provider.Instance, d InstanceDetail, retry bool) error {
	// Both calls name the action: internal/descriptor's CAM policy test
	// reads the actions off call and read sites.
	req := DescribeTransparentDataEncryptionStatusRequest{InstanceId: d.InstanceId}
	var tde DescribeTransparentDataEncryptionStatusResponse
	var err error
	if retry {
		err = p.read(ctx, in.Region, "DescribeTransparentDataEncryptionStatus", req, &tde)
	} else {
		err = p.call(ctx, in.Region, "DescribeTransparentDataEncryptionStatus", req, &tde)
	}
	if err != nil {
		return fmt.Errorf("encryption status of %s: %w", d.InstanceId, err)
	}
	in.Methods, in.Kind = Methods(d.MachineType, tde.TransparentDataEncryptionStatus == "open")
	return nil
}

// ParsedRef is a Ref taken apart: an async task ("async/<id>", from Start)
// or a listed backup ("backup/<BackId>", from Find).
type ParsedRef struct {
	Async  string
	BackID int64
}

// ParseRef takes apart a Ref made by this adapter.
func ParseRef(ref provider.Ref) (ParsedRef, error) {
	kind, id, _ := strings.Cut(string(ref), "/")
	switch kind {
	case "async":
		if validAsyncID(id) {
			return ParsedRef{Async: id}, nil
		}
	case "backup":
		n, err := strconv.ParseInt(id, 10, 64)
		if err == nil && n > 0 && id[0] != '+' {
			return ParsedRef{BackID: n}, nil
		}
	}
	return ParsedRef{}, apierr.Invalid("tcmongodb: ref %q: want async/<id> or backup/<id>", ref)
}

// AsyncState maps DescribeAsyncRequestInfo's Status. paused and undoed are
// documented as failures needing a human, so they end the job.
func AsyncState(status string) (provider.State, string) {
	switch strings.ToLower(status) {
	case "initial", "running":
		return provider.Running, ""
	case "success":
		return provider.Succeeded, ""
	case "failed":
		return provider.Failed, `task status "failed"; MongoDB's DescribeAsyncRequestInfo gives no reason: see the instance's task list in the console`
	case "paused":
		return provider.Failed, `task status "paused": stopped, it needs action in the console (MongoDB gives no reason)`
	case "undoed":
		return provider.Failed, `task status "undoed": rolled back (MongoDB gives no reason)`
	}
	return provider.Failed, fmt.Sprintf("unexpected task status %q", status)
}

// BackupState maps a listed backup's Status (1 backing up, 2 succeeded; no
// failure value is documented).
func BackupState(status int64) (provider.State, string) {
	switch status {
	case 1:
		return provider.Running, ""
	case 2:
		return provider.Succeeded, ""
	}
	return provider.Failed, fmt.Sprintf("unexpected backup status %d", status)
}

// Status reports an async task or a listed backup.
func (p *Provider) Status(ctx context.Context, spec provider.Spec, ref provider.Ref) (provider.Status, error) {
	if err := check(spec); err != nil {
		return provider.Status{}, err
	}
	r, err := ParseRef(ref)
	if err != nil {
		return provider.Status{}, err
	}
	if r.Async != "" {
		var resp DescribeAsyncRequestInfoResponse
		if err := p.call(ctx, spec.Region, "DescribeAsyncRequestInfo", DescribeAsyncRequestInfoRequest{AsyncRequestId: r.Async}, &resp); err != nil {
			return provider.Status{}, fmt.Errorf("tcmongodb: status of task %s on %s: %w", r.Async, spec.InstanceID, err)
		}
		state, detail := AsyncState(resp.Status)
		return done(provider.Status{State: state, Progress: -1, Detail: detail}), nil
	}
	var found *BackupInfo
	err = p.backups(ctx, spec, func(b *BackupInfo) bool {
		if b.BackId == r.BackID {
			found = b
			return false
		}
		return true
	})
	if err != nil {
		return provider.Status{}, fmt.Errorf("tcmongodb: status of backup %d on %s: %w", r.BackID, spec.InstanceID, err)
	}
	id := strconv.FormatInt(r.BackID, 10)
	if found == nil {
		// Refs to listed backups come from Find, so it was there; only the
		// last 7 days are listed.
		return provider.Status{State: provider.Failed, Progress: -1, BackupID: id, Detail: "backup is no longer listed"}, nil
	}
	state, detail := BackupState(found.Status)
	return done(provider.Status{State: state, Progress: -1, BackupID: id, Detail: detail}), nil
}

func done(st provider.Status) provider.Status {
	if st.State == provider.Succeeded {
		st.Progress = 100
	}
	return st
}

// Find looks for the newest manual backup whose remark is spec.Name. The
// create call returns no backup id, so the remark is the only link.
func (p *Provider) Find(ctx context.Context, spec provider.Spec) (provider.Ref, bool, error) {
	if err := check(spec); err != nil {
		return "", false, err
	}
	var best *BackupInfo
	err := p.backups(ctx, spec, func(b *BackupInfo) bool {
		if b.BackupType == 1 && b.BackupDesc == spec.Name &&
			(best == nil || b.StartTime > best.StartTime || (b.StartTime == best.StartTime && b.BackId > best.BackId)) {
			best = b
		}
		return true
	})
	if err != nil {
		return "", false, fmt.Errorf("tcmongodb: find backup %q on %s: %w", spec.Name, spec.InstanceID, err)
	}
	if best == nil {
		return "", false, nil
	}
	return provider.Ref("backup/" + strconv.FormatInt(best.BackId, 10)), true, nil
}

func (p *Provider) backups(ctx context.Context, spec provider.Spec, visit func(*BackupInfo) bool) error {
	var offset uint64
	for range maxPages {
		var resp DescribeDBBackupsResponse
		req := DescribeDBBackupsRequest{InstanceId: spec.InstanceID, BackupMethod: ListAllMethods, Limit: pageSize, Offset: offset}
		if err := p.call(ctx, spec.Region, "DescribeDBBackups", req, &resp); err != nil {
			return err
		}
		for i := range resp.BackupList {
			if !visit(&resp.BackupList[i]) {
				return nil
			}
		}
		offset += uint64(len(resp.BackupList))
		if len(resp.BackupList) == 0 || offset >= resp.TotalCount {
			return nil
		}
	}
	return nil
}

// Discover lists the formal instances tagged tagKey=tagValue in the
// provider's region and says which can be backed up now.
func (p *Provider) Discover(ctx context.Context, tagKey, tagValue string) ([]provider.Instance, error) {
	if tagKey == "" {
		return nil, apierr.Invalid("tcmongodb: discover: empty tag key")
	}
	var out []provider.Instance
	var offset uint64
	for range maxPages {
		req := DescribeDBInstancesRequest{InstanceType: 1, ClusterType: -1,
			Tags: []TagFilter{{TagKey: tagKey, TagValue: tagValue}}, Limit: pageSize, Offset: offset}
		var resp DescribeDBInstancesResponse
		if err := p.read(ctx, "", "DescribeDBInstances", req, &resp); err != nil {
			return nil, fmt.Errorf("tcmongodb: discover %s=%s in %s: %w", tagKey, tagValue, p.opts.Region, err)
		}
		for _, in := range resp.InstanceDetails {
			if !hasTag(in.Tags, tagKey, tagValue) {
				continue
			}
			c := classify(in, p.opts.Region)
			if c.Eligible {
				// The method depends on the disk kind and on TDE, which
				// the instance list does not carry: one call per instance.
				if err := p.kind(ctx, &c, in, true); err != nil {
					return nil, fmt.Errorf("tcmongodb: discover: %w", err)
				}
			}
			out = append(out, c)
		}
		offset += uint64(len(resp.InstanceDetails))
		if len(resp.InstanceDetails) == 0 || offset >= resp.TotalCount {
			break
		}
	}
	return out, nil
}

// Describe is DescribeDBInstances filtered by the one id, read-only
// replicas included (InstanceType -1), so one is named as such.
func (p *Provider) Describe(ctx context.Context, id string) (provider.Instance, bool, error) {
	req := DescribeDBInstancesRequest{InstanceIds: []string{id}, InstanceType: -1, ClusterType: -1, Limit: 1}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, "", "DescribeDBInstances", req, &resp); err != nil {
		return provider.Instance{}, false, fmt.Errorf("tcmongodb: describe %s in %s: %w", id, p.opts.Region, err)
	}
	for _, in := range resp.InstanceDetails {
		if in.InstanceId != id {
			continue
		}
		c := classify(in, p.opts.Region)
		if c.Eligible {
			if err := p.kind(ctx, &c, in, false); err != nil {
				return provider.Instance{}, false, fmt.Errorf("tcmongodb: describe: %w", err)
			}
		}
		return c, true, nil
	}
	return provider.Instance{}, false, nil
}

func hasTag(tags []TagFilter, k, v string) bool {
	for _, t := range tags {
		if t.TagKey == k && t.TagValue == v {
			return true
		}
	}
	return false
}

func classify(in InstanceDetail, region string) provider.Instance {
	out := provider.Instance{Product: provider.MongoDB, Region: in.Region, InstanceID: in.InstanceId, Name: in.InstanceName}
	if out.Region == "" {
		out.Region = region
	}
	switch {
	case in.InstanceType == 2:
		out.Reason = "temporary instance"
	case in.InstanceType == 3:
		out.Reason = "read-only replica"
	case in.Status == 2:
		out.Eligible = true
	case in.Status == 0:
		out.Reason = "creating"
	case in.Status == 1:
		out.Reason = "processing a change"
	case in.Status == -2 || in.Status == -3:
		out.Reason = "isolated"
	default:
		out.Reason = fmt.Sprintf("status %d", in.Status)
	}
	return out
}
