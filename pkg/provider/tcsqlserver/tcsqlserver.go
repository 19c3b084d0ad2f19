package tcsqlserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/tencent"
)

const (
	service  = "sqlserver"
	version  = "2018-03-28"
	pageSize = 100
	// maxPages bounds every paging loop.
	maxPages = 1000
	// timeLayout is the product's "yyyy-MM-dd HH:mm:ss".
	timeLayout = "2006-01-02 15:04:05"
)

// Options configure a Provider.
type Options struct {
	// Region is used when a spec names none.
	Region string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Location is the zone of the product's zone-less times (DescribeBackups'
	// StartTime/EndTime window); default Beijing time, UTC+8, the zone of the
	// Chinese regions. Erring east only widens the window's end.
	Location *time.Location
}

// Provider backs up and imports TencentDB for SQL Server instances. Safe for
// concurrent use.
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
	if opts.Location == nil {
		opts.Location = time.FixedZone("UTC+8", 8*60*60)
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

// check validates a spec. Status and Find run in later steps that get the
// spec from a message, where SourceURL is never serialised, so only Start
// (needURL) demands it.
func check(spec provider.Spec, needURL bool) error {
	if spec.Product != provider.SQLServer {
		return apierr.Invalid("tcsqlserver: product %q is not %s", spec.Product, provider.SQLServer)
	}
	if spec.Op == provider.Import && !needURL && spec.SourceURL == "" {
		spec.SourceURL = "unused"
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("tcsqlserver: %w", err)
	}
	return nil
}

// Ref kinds.
const (
	kindFlow      = "flow"      // CreateBackup's FlowId
	kindBackup    = "backup"    // a backup's Id, from Find
	kindMigration = "migration" // a backup migration id, optionally with its start flow
	// kindName is a backup found by name that has no Id: single-database
	// backup files are listed one per database, without an Id.
	kindName = "name"
)

// ParsedRef is a Ref taken apart.
type ParsedRef struct {
	Kind        string // "flow", "backup" or "migration"
	ID          int64  // FlowId or backup Id (flow/backup)
	MigrationID string // migration
	FlowID      int64  // migration: StartBackupMigration's FlowId, 0 when unknown
	Name        string // name: the BackupName
}

// String renders the Ref.
func (r ParsedRef) String() string {
	switch r.Kind {
	case kindName:
		return kindName + "/" + r.Name
	case kindMigration:
		if r.FlowID > 0 {
			return kindMigration + "/" + r.MigrationID + "/flow/" + strconv.FormatInt(r.FlowID, 10)
		}
		return kindMigration + "/" + r.MigrationID
	}
	return r.Kind + "/" + strconv.FormatInt(r.ID, 10)
}

// validMigrationID: 1-64 letters, digits, '_' or '-'.
func validMigrationID(s string) bool { return provider.IsWord(s, 64) }

func positive(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && s[0] != '+'
}

// ParseRef takes apart a Ref made by this adapter.
func ParseRef(ref provider.Ref) (ParsedRef, error) {
	parts := strings.Split(string(ref), "/")
	bad := apierr.Invalid("tcsqlserver: ref %q: want flow/<id>, backup/<id>, name/<backup name> or migration/<id>[/flow/<id>]", ref)
	switch {
	case len(parts) == 2 && (parts[0] == kindFlow || parts[0] == kindBackup):
		n, ok := positive(parts[1])
		if !ok {
			return ParsedRef{}, bad
		}
		return ParsedRef{Kind: parts[0], ID: n}, nil
	case len(parts) == 2 && parts[0] == kindName && provider.ValidateName(provider.SQLServer, parts[1]) == nil:
		return ParsedRef{Kind: kindName, Name: parts[1]}, nil
	case (len(parts) == 2 || len(parts) == 4) && parts[0] == kindMigration && validMigrationID(parts[1]):
		r := ParsedRef{Kind: kindMigration, MigrationID: parts[1]}
		if len(parts) == 4 {
			n, ok := positive(parts[3])
			if parts[2] != kindFlow || !ok {
				return ParsedRef{}, bad
			}
			r.FlowID = n
		}
		return r, nil
	}
	return ParsedRef{}, bad
}

// Start starts a backup (Ref "flow/<FlowId>") or, for an import, creates and
// starts a backup migration (Ref "migration/<id>/flow/<FlowId>").
func (p *Provider) Start(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	if err := check(spec, true); err != nil {
		return "", err
	}
	if spec.Op == provider.Import {
		ref, err := p.startImport(ctx, spec)
		return ref, redact(err, spec.SourceURL)
	}
	req := CreateBackupRequest{InstanceId: spec.InstanceID, BackupName: spec.Name}
	if spec.KeepUntilGone {
		req.StorageStrategy = 1 // kept until the instance is decommissioned
	}
	if len(spec.Databases) > 0 {
		req.Strategy, req.DBNames = 1, spec.Databases
	}
	var resp CreateBackupResponse
	if err := p.call(ctx, spec.Region, "CreateBackup", req, &resp); err != nil {
		return "", fmt.Errorf("tcsqlserver: create backup %s: %w", spec.InstanceID, err)
	}
	if resp.FlowId <= 0 {
		// The backup may have started; without the flow only its name
		// finds it, so look it up before trying again.
		return "", apierr.Ambiguous("tcsqlserver: create backup %s: the answer has no FlowId", spec.InstanceID)
	}
	return provider.Ref(ParsedRef{Kind: kindFlow, ID: resp.FlowId}.String()), nil
}

// startImport reuses a migration an earlier attempt created but could not
// start (status 2), refreshing its URL since a presigned URL expires; adopts
// one already started; else creates one. Then it starts it.
func (p *Provider) startImport(ctx context.Context, spec provider.Spec) (provider.Ref, error) {
	m, err := p.migrationByName(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("tcsqlserver: look up import %q on %s: %w", spec.Name, spec.InstanceID, err)
	}
	var id string
	switch {
	case m != nil && m.Status != 2:
		return provider.Ref(ParsedRef{Kind: kindMigration, MigrationID: m.MigrationId}.String()), nil
	case m != nil:
		id = m.MigrationId
		req := ModifyBackupMigrationRequest{InstanceId: spec.InstanceID, BackupMigrationId: id, BackupFiles: []string{spec.SourceURL}}
		if err := p.call(ctx, spec.Region, "ModifyBackupMigration", req, &ModifyBackupMigrationResponse{}); err != nil {
			return "", fmt.Errorf("tcsqlserver: refresh import %s on %s: %w", id, spec.InstanceID, err)
		}
	default:
		req := CreateBackupMigrationRequest{InstanceId: spec.InstanceID, RecoveryType: "FULL", UploadType: "COS_URL",
			MigrationName: spec.Name, BackupFiles: []string{spec.SourceURL}}
		var resp CreateBackupMigrationResponse
		if err := p.call(ctx, spec.Region, "CreateBackupMigration", req, &resp); err != nil {
			return "", fmt.Errorf("tcsqlserver: create import %q on %s: %w", spec.Name, spec.InstanceID, err)
		}
		id = resp.BackupMigrationId
		if !validMigrationID(id) {
			return "", fmt.Errorf("tcsqlserver: create import %q on %s: unexpected migration id %q", spec.Name, spec.InstanceID, id)
		}
	}
	var resp StartBackupMigrationResponse
	req := StartBackupMigrationRequest{InstanceId: spec.InstanceID, BackupMigrationId: id}
	if err := p.call(ctx, spec.Region, "StartBackupMigration", req, &resp); err != nil {
		return "", fmt.Errorf("tcsqlserver: start import %s on %s: %w", id, spec.InstanceID, err)
	}
	return provider.Ref(ParsedRef{Kind: kindMigration, MigrationID: id, FlowID: resp.FlowId}.String()), nil
}

// redact keeps a presigned URL (a bearer secret) out of an error, in case
// the cloud echoed it in its message.
func redact(err error, url string) error {
	if err == nil || url == "" {
		return err
	}
	secrets := []string{url}
	if i := strings.IndexByte(url, '?'); i >= 0 && i+1 < len(url) {
		secrets = append(secrets, url[i+1:])
	}
	scrub := func(s string) (string, bool) {
		changed := false
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				s, changed = strings.ReplaceAll(s, sec, "[source url]"), true
			}
		}
		return s, changed
	}
	msg, changed := scrub(err.Error())
	if !changed {
		return err
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		c := *ae
		c.Message, _ = scrub(c.Message)
		c.Err = nil // the SDK error repeats the message
		// Keep the context wrapped around the cloud error, not its text.
		prefix, _, found := strings.Cut(msg, c.Error())
		if !found {
			prefix = "tcsqlserver: "
		}
		return fmt.Errorf("%s%w", prefix, &c)
	}
	return errors.New(msg)
}

// Status reports a backup flow, a listed backup or an import.
func (p *Provider) Status(ctx context.Context, spec provider.Spec, ref provider.Ref) (provider.Status, error) {
	if err := check(spec, false); err != nil {
		return provider.Status{}, err
	}
	r, err := ParseRef(ref)
	if err != nil {
		return provider.Status{}, err
	}
	switch r.Kind {
	case kindFlow:
		st, err := p.flowStatus(ctx, spec, r.ID)
		if err != nil {
			return provider.Status{}, fmt.Errorf("tcsqlserver: status of backup flow %d on %s: %w", r.ID, spec.InstanceID, err)
		}
		return st, nil
	case kindBackup:
		st, err := p.backupStatus(ctx, spec, r.ID)
		if err != nil {
			return provider.Status{}, fmt.Errorf("tcsqlserver: status of backup %d on %s: %w", r.ID, spec.InstanceID, err)
		}
		return st, nil
	case kindName:
		st, err := p.namedStatus(ctx, spec, r.Name)
		if err != nil {
			return provider.Status{}, fmt.Errorf("tcsqlserver: status of backup %q on %s: %w", r.Name, spec.InstanceID, err)
		}
		return st, nil
	}
	st, err := p.migrationStatus(ctx, spec, r)
	if err != nil {
		return provider.Status{}, fmt.Errorf("tcsqlserver: status of import %s on %s: %w", r.MigrationID, spec.InstanceID, err)
	}
	return st, nil
}

// FlowState maps DescribeFlowStatus' Status (0 succeeded, 1 failed, 2
// running); anything else stops the job, as the vendor's tooling does.
func FlowState(status int64) (provider.State, string) {
	switch status {
	case 0:
		return provider.Succeeded, ""
	case 1:
		return provider.Failed, "flow failed"
	case 2:
		return provider.Running, ""
	}
	return provider.Failed, fmt.Sprintf("unexpected flow status %d", status)
}

func (p *Provider) flowStatus(ctx context.Context, spec provider.Spec, flow int64) (provider.Status, error) {
	var resp DescribeFlowStatusResponse
	if err := p.call(ctx, spec.Region, "DescribeFlowStatus", DescribeFlowStatusRequest{FlowId: flow}, &resp); err != nil {
		return provider.Status{}, err
	}
	state, detail := FlowState(resp.Status)
	st := provider.Status{State: state, Progress: -1, Detail: detail}
	if state == provider.Succeeded {
		st.Progress = 100
	}
	return st, nil
}

// BackupState maps a listed backup's Status (0 creating, 1 success, 2 failed).
func BackupState(status int64) (provider.State, string) {
	switch status {
	case 0:
		return provider.Running, ""
	case 1:
		return provider.Succeeded, ""
	case 2:
		return provider.Failed, "backup failed"
	}
	return provider.Failed, fmt.Sprintf("unexpected backup status %d", status)
}

func (p *Provider) backupStatus(ctx context.Context, spec provider.Spec, id int64) (provider.Status, error) {
	var found *Backup
	req := p.backupsRequest(spec)
	req.BackupId = uint64(id)
	err := p.backups(ctx, spec, req, func(b *Backup) bool {
		if b.Id == uint64(id) {
			found = b
			return false
		}
		return true
	})
	if err != nil {
		return provider.Status{}, err
	}
	if found == nil {
		// Refs to listed backups come from Find, so it was there: it has
		// been removed, or aged out of the 8-day window.
		return provider.Status{State: provider.Failed, Progress: -1, BackupID: strconv.FormatInt(id, 10),
			Detail: "backup is no longer listed"}, nil
	}
	state, detail := BackupState(found.Status)
	st := provider.Status{State: state, Progress: -1, BackupID: strconv.FormatUint(found.Id, 10), Detail: detail}
	if state == provider.Succeeded {
		st.Progress = 100
	}
	return st, nil
}

// namedStatus reads a backup by its name, for single-database backup files
// (one listed file per database, none with an Id): any file failed is a
// failure, any still being made is running, all done is success.
func (p *Provider) namedStatus(ctx context.Context, spec provider.Spec, name string) (provider.Status, error) {
	req := p.backupsRequest(spec)
	manual := int64(1)
	req.BackupName, req.BackupWay = name, &manual
	var files []*Backup
	if err := p.backups(ctx, spec, req, func(b *Backup) bool {
		if b.BackupName == name {
			files = append(files, b)
		}
		return true
	}); err != nil {
		return provider.Status{}, err
	}
	st := provider.Status{State: provider.Succeeded, Progress: 100, BackupID: name}
	if len(files) == 0 {
		st.State, st.Progress, st.Detail = provider.Failed, -1, "backup is no longer listed"
		return st, nil
	}
	for _, b := range files {
		switch state, detail := BackupState(b.Status); state {
		case provider.Failed:
			st.State, st.Progress, st.Detail = provider.Failed, -1, fmt.Sprintf("%s: %s", b.FileName, detail)
			return st, nil
		case provider.Running:
			st.State, st.Progress = provider.Running, -1
		}
	}
	if st.State == provider.Succeeded {
		st.Detail = fmt.Sprintf("%d single-database files", len(files))
	}
	return st, nil
}

// MigrationState maps a backup migration's Status. 8 (full phase done,
// waiting for increments) only happens for FULL_LOG/FULL_DIFF, which this
// adapter never creates; the full import it asked for is then done.
func MigrationState(status int64, message string) (provider.State, string) {
	switch status {
	case 2, 7, 12:
		return provider.Running, ""
	case 8, 9:
		return provider.Succeeded, ""
	case 10:
		if message == "" {
			message = "import failed"
		}
		return provider.Failed, message
	}
	return provider.Failed, fmt.Sprintf("unexpected migration status %d", status)
}

func (p *Provider) migrationStatus(ctx context.Context, spec provider.Spec, r ParsedRef) (provider.Status, error) {
	var m *Migration
	req := DescribeBackupMigrationRequest{InstanceId: spec.InstanceID, BackupMigrationId: r.MigrationID}
	err := p.migrations(ctx, spec, req, func(x *Migration) bool {
		if x.MigrationId == r.MigrationID {
			m = x
			return false
		}
		return true
	})
	if err != nil {
		return provider.Status{}, err
	}
	if m == nil {
		return provider.Status{State: provider.Failed, Progress: -1, BackupID: r.MigrationID,
			Detail: "import task is no longer listed"}, nil
	}
	state, detail := MigrationState(m.Status, m.Message)
	st := provider.Status{State: state, Progress: -1, BackupID: m.MigrationId, Detail: detail}
	if m.Detail != nil {
		st.Progress = int(m.Detail.Progress)
	}
	if state == provider.Succeeded {
		st.Progress = 100
	}
	if state != provider.Running || r.FlowID == 0 {
		return st, nil
	}
	// The task may still say "running" when its flow has already failed.
	var fresp DescribeFlowStatusResponse
	if err := p.call(ctx, spec.Region, "DescribeFlowStatus", DescribeFlowStatusRequest{FlowId: r.FlowID}, &fresp); err != nil {
		return provider.Status{}, err
	}
	if fs, fdetail := FlowState(fresp.Status); fs == provider.Failed {
		st.State, st.Detail = provider.Failed, fdetail
		if m.Message != "" {
			st.Detail += ": " + m.Message
		}
	}
	return st, nil
}

// Find looks for spec.Name: a manual backup (Ref "backup/<Id>") or an import
// that has been started (Ref "migration/<id>"). A migration created but not
// started is not "found": Start picks it up and starts it.
func (p *Provider) Find(ctx context.Context, spec provider.Spec) (provider.Ref, bool, error) {
	if err := check(spec, false); err != nil {
		return "", false, err
	}
	if spec.Op == provider.Import {
		m, err := p.migrationByName(ctx, spec)
		if err != nil {
			return "", false, fmt.Errorf("tcsqlserver: find import %q on %s: %w", spec.Name, spec.InstanceID, err)
		}
		if m == nil || m.Status == 2 {
			return "", false, nil
		}
		return provider.Ref(ParsedRef{Kind: kindMigration, MigrationID: m.MigrationId}.String()), true, nil
	}
	req := p.backupsRequest(spec)
	manual := int64(1)
	req.BackupName, req.BackupWay = spec.Name, &manual
	var best *Backup
	err := p.backups(ctx, spec, req, func(b *Backup) bool {
		// The name filter may be fuzzy; only an exact match is ours.
		if b.BackupName == spec.Name && (best == nil || b.Id > best.Id) {
			best = b
		}
		return true
	})
	if err != nil {
		return "", false, fmt.Errorf("tcsqlserver: find backup %q on %s: %w", spec.Name, spec.InstanceID, err)
	}
	switch {
	case best == nil:
		return "", false, nil
	case best.Id == 0:
		// Single-database files carry no Id: the name is the only handle.
		return provider.Ref(ParsedRef{Kind: kindName, Name: spec.Name}.String()), true, nil
	}
	return provider.Ref(ParsedRef{Kind: kindBackup, ID: int64(best.Id)}.String()), true, nil
}

// backupsRequest covers the last 8 days (a day more than jobs live) up to an
// hour ahead, in the product's zone-less time format.
func (p *Provider) backupsRequest(spec provider.Spec) DescribeBackupsRequest {
	now := p.opts.Now().In(p.opts.Location)
	return DescribeBackupsRequest{
		InstanceId: spec.InstanceID,
		StartTime:  now.Add(-8 * 24 * time.Hour).Format(timeLayout),
		EndTime:    now.Add(time.Hour).Format(timeLayout),
		Limit:      pageSize,
	}
}

func (p *Provider) backups(ctx context.Context, spec provider.Spec, req DescribeBackupsRequest, visit func(*Backup) bool) error {
	seen := int64(0)
	for page := range int64(maxPages) {
		req.Offset = page
		var resp DescribeBackupsResponse
		if err := p.call(ctx, spec.Region, "DescribeBackups", req, &resp); err != nil {
			return err
		}
		for i := range resp.Backups {
			if !visit(&resp.Backups[i]) {
				return nil
			}
		}
		seen += int64(len(resp.Backups))
		if len(resp.Backups) == 0 || seen >= resp.TotalCount {
			return nil
		}
	}
	return nil
}

func (p *Provider) migrations(ctx context.Context, spec provider.Spec, req DescribeBackupMigrationRequest, visit func(*Migration) bool) error {
	req.Limit = pageSize
	seen := int64(0)
	for page := range int64(maxPages) {
		req.Offset = page
		var resp DescribeBackupMigrationResponse
		if err := p.call(ctx, spec.Region, "DescribeBackupMigration", req, &resp); err != nil {
			return err
		}
		for i := range resp.BackupMigrationSet {
			if !visit(&resp.BackupMigrationSet[i]) {
				return nil
			}
		}
		seen += int64(len(resp.BackupMigrationSet))
		if len(resp.BackupMigrationSet) == 0 || seen >= resp.TotalCount {
			return nil
		}
	}
	return nil
}

// migrationByName returns the migration named exactly spec.Name, preferring
// one that has been started over one still waiting (status 2).
func (p *Provider) migrationByName(ctx context.Context, spec provider.Spec) (*Migration, error) {
	var best *Migration
	req := DescribeBackupMigrationRequest{InstanceId: spec.InstanceID, MigrationName: spec.Name}
	err := p.migrations(ctx, spec, req, func(m *Migration) bool {
		if m.MigrationName == spec.Name && (best == nil || (best.Status == 2 && m.Status != 2)) {
			best = m
		}
		return true
	})
	return best, err
}

// Discover lists the instances tagged tagKey=tagValue in the provider's
// region and says which can be backed up now. The product filters by tag key
// only; the value is matched here.
func (p *Provider) Discover(ctx context.Context, tagKey, tagValue string) ([]provider.Instance, error) {
	if tagKey == "" {
		return nil, apierr.Invalid("tcsqlserver: discover: empty tag key")
	}
	var out []provider.Instance
	seen := int64(0)
	for page := range int64(maxPages) {
		req := DescribeDBInstancesRequest{TagKeys: []string{tagKey}, Limit: pageSize, Offset: page}
		var resp DescribeDBInstancesResponse
		if err := p.read(ctx, "", "DescribeDBInstances", req, &resp); err != nil {
			return nil, fmt.Errorf("tcsqlserver: discover %s=%s in %s: %w", tagKey, tagValue, p.opts.Region, err)
		}
		for _, in := range resp.DBInstances {
			if hasTag(in.ResourceTags, tagKey, tagValue) {
				out = append(out, classify(in, p.opts.Region))
			}
		}
		seen += int64(len(resp.DBInstances))
		if len(resp.DBInstances) == 0 || seen >= resp.TotalCount {
			break
		}
	}
	return out, nil
}

// Describe is DescribeDBInstances filtered by the one id.
func (p *Provider) Describe(ctx context.Context, id string) (provider.Instance, bool, error) {
	req := DescribeDBInstancesRequest{InstanceIdSet: []string{id}, Limit: 1}
	var resp DescribeDBInstancesResponse
	if err := p.call(ctx, "", "DescribeDBInstances", req, &resp); err != nil {
		return provider.Instance{}, false, fmt.Errorf("tcsqlserver: describe %s in %s: %w", id, p.opts.Region, err)
	}
	for _, in := range resp.DBInstances {
		if in.InstanceId == id {
			return classify(in, p.opts.Region), true, nil
		}
	}
	return provider.Instance{}, false, nil
}

func hasTag(tags []ResourceTag, k, v string) bool {
	for _, t := range tags {
		if t.TagKey == k && t.TagValue == v {
			return true
		}
	}
	return false
}

// statusReasons name the non-running statuses (cos-and-discovery §B.2, §B.6).
var statusReasons = map[int64]string{
	1: "creating", 3: "switching", 4: "isolated", 5: "recycling", 6: "recycled",
	7: "running a task", 8: "offline", 9: "scaling", 10: "migrating", 11: "read-only",
	12: "restarting", 13: "modifying", 14: "creating publish/subscribe", 15: "modifying publish/subscribe",
	16: "modifying", 17: "creating a read-only replica",
}

func classify(in DBInstance, region string) provider.Instance {
	out := provider.Instance{Product: provider.SQLServer, Region: in.Region, InstanceID: in.InstanceId, Name: in.Name}
	if out.Region == "" {
		out.Region = region
	}
	switch {
	case in.InstanceType == "RO" || in.InstanceType == "cvmRO" || in.ROFlag == "RO":
		out.Reason = "read-only replica"
	case in.Status == 2:
		out.Eligible = true
	case statusReasons[in.Status] != "":
		out.Reason = statusReasons[in.Status]
	default:
		out.Reason = fmt.Sprintf("status %d", in.Status)
	}
	return out
}
