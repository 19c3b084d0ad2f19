package tcmysql

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
	service = "cdb"
	version = "2017-03-20"
	// pageSize stays at the intl doc's 100 although the SDK allows more.
	pageSize = 100
	// maxPages bounds every paging loop so a cloud that keeps answering
	// full pages cannot hold an invocation forever.
	maxPages = 1000
	// instancePageSize is DescribeDBInstances' documented maximum.
	instancePageSize = 2000
)

// Options configure a Provider.
type Options struct {
	// Region is used when a spec names none.
	Region string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Provider backs up TencentDB for MySQL instances. Safe for concurrent use.
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
	if spec.Product != provider.MySQL {
		return apierr.Invalid("tcmysql: product %q is not %s", spec.Product, provider.MySQL)
	}
	if spec.Op != provider.Backup {
		return apierr.Invalid("tcmysql: op %q: only backups are supported", spec.Op)
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("tcmysql: %w", err)
	}
	return nil
}

// Method picks the backup method: the spec's, else logical when tables are
// selected (only logical backups take a table list), else physical.
func Method(spec provider.Spec) string {
	switch {
	case spec.Method != "":
		return spec.Method
	case len(spec.Tables) > 0:
		return "logical"
	}
	return "physical"
}

// Methods are the backup methods an instance of this DeviceType can take,
// the default first: Basic edition (BASIC, BASIC_V2) takes only snapshot
// (facts/database-apis.md §1.1); the others default to physical.
func Methods(deviceType string) (methods []string, kind string) {
	switch strings.ToUpper(deviceType) {
	case "BASIC", "BASIC_V2":
		return []string{"snapshot"}, "Basic edition"
	}
	return []string{"physical", "logical", "snapshot"}, ""
}

// Start creates a manual backup named spec.Name; the Ref is "backup/<BackupId>".
// With neither a method nor tables it first reads the instance's DeviceType,
// so a Basic-edition instance gets the snapshot it can take.
func (p *Provider) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	if err := check(spec); err != nil {
		return "", err
	}
	if spec.Method == "" && len(spec.Tables) == 0 {
		m, err := p.defaultMethod(ctx, spec.Region, spec.InstanceID)
		if err != nil {
			return "", fmt.Errorf("tcmysql: create backup %s: %w", spec.InstanceID, err)
		}
		spec.Method = m
	}
	req := CreateBackupRequest{InstanceId: spec.InstanceID, BackupMethod: Method(spec), ManualBackupName: spec.Name}
	for _, t := range spec.Tables {
		req.BackupDBTableList = append(req.BackupDBTableList, BackupItem{Db: t.DB, Table: t.Table})
	}
	var resp CreateBackupResponse
	if err := p.call(ctx, spec.Region, "CreateBackup", req, &resp); err != nil {
		return "", fmt.Errorf("tcmysql: create %s backup %s: %w", req.BackupMethod, spec.InstanceID, err)
	}
	if resp.BackupId == 0 {
		// Without the id the backup cannot be told apart, but it may have
		// started: look it up by name before trying again.
		return "", apierr.Ambiguous("tcmysql: create backup %s: the answer has no BackupId", spec.InstanceID)
	}
	return Ref(int64(resp.BackupId)), nil
}

// defaultMethod reads the instance's DeviceType. An instance the list does
// not show gets physical, so the create call reports it with the cloud's code.
func (p *Provider) defaultMethod(ctx context.Context, region, id string) (string, error) {
	req := DescribeDBInstancesRequest{InstanceIds: []string{id}, Limit: 1}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, region, "DescribeDBInstances", req, &resp); err != nil {
		return "", fmt.Errorf("describe: %w", err)
	}
	for _, in := range resp.Items {
		if in.InstanceId == id {
			m, _ := Methods(in.DeviceType)
			return m[0], nil
		}
	}
	return "physical", nil
}

// DefaultMethods reads the device type of up to provider.MethodBatch
// instances in one DescribeDBInstances call (InstanceIds, Limit up to
// 2000) and returns each listed instance's default method, as Start
// would pick it.
func (p *Provider) DefaultMethods(ctx context.Context, region string, ids []string) (map[string]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > provider.MethodBatch {
		return nil, apierr.Invalid("tcmysql: %d instances in one method lookup; at most %d", len(ids), provider.MethodBatch)
	}
	req := DescribeDBInstancesRequest{InstanceIds: ids, Limit: uint64(len(ids))}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, region, "DescribeDBInstances", req, &resp); err != nil {
		return nil, fmt.Errorf("tcmysql: default methods of %d instances: %w", len(ids), err)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[string]string, len(ids))
	for _, in := range resp.Items {
		if want[in.InstanceId] {
			m, _ := Methods(in.DeviceType)
			out[in.InstanceId] = m[0]
		}
	}
	return out, nil
}

// Ref is the handle of a backup.
func Ref(backupID int64) provider.Ref {
	return provider.Ref("backup/" + strconv.FormatInt(backupID, 10))
}

// ParseRef returns the backup id in a Ref made by Ref.
func ParseRef(ref provider.Ref) (int64, error) {
	s, ok := strings.CutPrefix(string(ref), "backup/")
	if !ok {
		return 0, apierr.Invalid("tcmysql: ref %q: want backup/<id>", ref)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || s[0] == '+' {
		return 0, apierr.Invalid("tcmysql: ref %q: want backup/<id>", ref)
	}
	return id, nil
}

// Status reads the backup's entry in DescribeBackups. A backup not listed
// yet is still running: the list can lag the create call.
func (p *Provider) Status(ctx context.Context, spec provider.Spec, ref provider.Ref) (provider.Status, error) {
	if err := check(spec); err != nil {
		return provider.Status{}, err
	}
	id, err := ParseRef(ref)
	if err != nil {
		return provider.Status{}, err
	}
	var found *BackupInfo
	err = p.backups(ctx, spec, func(b *BackupInfo) bool {
		if b.BackupId == id {
			found = b
			return false
		}
		return true
	})
	if err != nil {
		return provider.Status{}, fmt.Errorf("tcmysql: status of backup %d on %s: %w", id, spec.InstanceID, err)
	}
	if found == nil {
		return provider.Status{State: provider.Running, Progress: -1, BackupID: strconv.FormatInt(id, 10),
			Detail: "not listed yet"}, nil
	}
	return statusOf(found), nil
}

func statusOf(b *BackupInfo) provider.Status {
	st := provider.Status{Progress: -1, BackupID: strconv.FormatInt(b.BackupId, 10)}
	if b.Progress != nil {
		st.Progress = int(*b.Progress)
	}
	switch b.Status {
	case "SUCCESS":
		st.State = provider.Succeeded
		st.Progress = 100
		st.Took = took(b)
	case "FAILED":
		st.State = provider.Failed
		st.Detail = "backup status FAILED"
	default:
		// RUNNING, empty or a value we do not know yet: keep polling, as
		// the vendor's own tooling does; the poll deadline ends a stuck job.
		st.State = provider.Running
		st.Detail = b.Status
		// What Progress counts from: the poll schedule places a check
		// at the end the two imply.
		st.Started = startOf(b)
	}
	return st
}

// startOf is the backup's StartTime (zone-less, in the region's zone);
// zero when missing or unreadable.
func startOf(b *BackupInfo) time.Time {
	t, err := time.ParseInLocation(tcLayout, b.StartTime, beijing)
	if err != nil {
		return time.Time{}
	}
	return t
}

// tcLayout is how Tencent writes a time: whole seconds, no zone.
const tcLayout = "2006-01-02 15:04:05"

// took is the backup's run time by its StartTime and FinishTime (zone-less,
// both in the region's zone, so the zone cancels out); 0 when either is
// missing or unreadable.
func took(b *BackupInfo) time.Duration {
	start := startOf(b)
	end, err := time.ParseInLocation(tcLayout, b.FinishTime, beijing)
	if start.IsZero() || err != nil || !end.After(start) {
		return 0
	}
	return end.Sub(start)
}

// Find looks for the newest manual backup whose alias is spec.Name.
func (p *Provider) Find(ctx context.Context, spec provider.Spec) (provider.Ref, bool, error) {
	if err := check(spec); err != nil {
		return "", false, err
	}
	var best *BackupInfo
	err := p.backups(ctx, spec, func(b *BackupInfo) bool {
		if b.ManualBackupName == spec.Name && (best == nil || newer(b, best)) {
			best = b
		}
		return true
	})
	if err != nil {
		return "", false, fmt.Errorf("tcmysql: find backup %q on %s: %w", spec.Name, spec.InstanceID, err)
	}
	if best == nil {
		return "", false, nil
	}
	return Ref(best.BackupId), true, nil
}

// newer orders by start time (the zone-less "2006-01-02 15:04:05" strings
// sort as text), then by id, which grows with time.
func newer(a, b *BackupInfo) bool {
	if a.StartTime != b.StartTime {
		return a.StartTime > b.StartTime
	}
	return a.BackupId > b.BackupId
}

// backups pages through DescribeBackups, calling visit for each item until
// it returns false.
func (p *Provider) backups(ctx context.Context, spec provider.Spec, visit func(*BackupInfo) bool) error {
	var offset int64
	for range maxPages {
		var resp DescribeBackupsResponse
		req := DescribeBackupsRequest{InstanceId: spec.InstanceID, Offset: offset, Limit: pageSize}
		if err := p.call(ctx, spec.Region, "DescribeBackups", req, &resp); err != nil {
			return err
		}
		for i := range resp.Items {
			if !visit(&resp.Items[i]) {
				return nil
			}
		}
		offset += int64(len(resp.Items))
		if len(resp.Items) == 0 || offset >= resp.TotalCount {
			return nil
		}
	}
	return nil
}

// Discover lists the instances tagged tagKey=tagValue in the provider's
// region and says which can be backed up now. Replicas are listed too, as
// skipped with the reason: a tagged read-only replica silently left out of
// the run read as "backed up" in the plan and the summary.
func (p *Provider) Discover(ctx context.Context, tagKey, tagValue string) ([]provider.Instance, error) {
	if tagKey == "" {
		return nil, apierr.Invalid("tcmysql: discover: empty tag key")
	}
	var out []provider.Instance
	var offset uint64
	for range maxPages {
		req := DescribeDBInstancesRequest{
			Tags:   []TagFilter{{Key: tagKey, Value: tagValue}},
			Offset: offset, Limit: instancePageSize,
		}
		var resp DescribeDBInstancesResponse
		if err := p.read(ctx, "", "DescribeDBInstances", req, &resp); err != nil {
			return nil, fmt.Errorf("tcmysql: discover %s=%s in %s: %w", tagKey, tagValue, p.opts.Region, err)
		}
		for _, in := range resp.Items {
			// Re-check the tag: a filter the cloud ignored must not widen the run.
			if !hasTag(in.TagList, tagKey, tagValue) {
				continue
			}
			c := classify(in, p.opts.Region)
			if c.Eligible {
				c.Methods, c.Kind = Methods(in.DeviceType)
			}
			out = append(out, c)
		}
		offset += uint64(len(resp.Items))
		if len(resp.Items) == 0 || int64(offset) >= resp.TotalCount {
			break
		}
	}
	return out, nil
}

// Describe is DescribeDBInstances filtered by the one id.
func (p *Provider) Describe(ctx context.Context, id string) (provider.Instance, bool, error) {
	req := DescribeDBInstancesRequest{InstanceIds: []string{id}, Limit: 1}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, "", "DescribeDBInstances", req, &resp); err != nil {
		return provider.Instance{}, false, fmt.Errorf("tcmysql: describe %s in %s: %w", id, p.opts.Region, err)
	}
	for _, in := range resp.Items {
		if in.InstanceId == id {
			c := classify(in, p.opts.Region)
			if c.Eligible {
				c.Methods, c.Kind = Methods(in.DeviceType)
			}
			return c, true, nil
		}
	}
	return provider.Instance{}, false, nil
}

func hasTag(tags []TagInfo, k, v string) bool {
	for _, t := range tags {
		if t.TagKey == k && t.TagValue == v {
			return true
		}
	}
	return false
}

// classify applies cos-and-discovery §B.6. A running instance with a task
// in progress stays eligible: CreateBackup's busy errors are retried later.
func classify(in InstanceInfo, region string) provider.Instance {
	out := provider.Instance{Product: provider.MySQL, Region: in.Region, InstanceID: in.InstanceId, Name: in.InstanceName}
	if out.Region == "" {
		out.Region = region
	}
	switch {
	case in.InstanceType == 2:
		out.Reason = "disaster-recovery replica"
	case in.InstanceType == 3:
		out.Reason = "read-only replica"
	case in.Status == 1:
		out.Eligible = true
	case in.Status == 0:
		out.Reason = "creating"
	case in.Status == 4:
		out.Reason = "isolating"
	case in.Status == 5:
		out.Reason = "isolated"
	default:
		out.Reason = fmt.Sprintf("status %d", in.Status)
	}
	return out
}
