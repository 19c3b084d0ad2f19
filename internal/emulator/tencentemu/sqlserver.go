package tencentemu

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

func mssqlActions() map[string]action {
	return map[string]action{
		"CreateBackup": {create: true, handle: (*Server).mssqlCreateBackup, params: []field{
			num("Strategy"), strs("DBNames"), reqStr("InstanceId"), str("BackupName"), num("StorageStrategy"),
		}},
		"DescribeFlowStatus": {handle: (*Server).mssqlDescribeFlowStatus, params: []field{reqNum("FlowId")}},
		"DescribeBackups": {limit: 60, handle: (*Server).mssqlDescribeBackups, params: []field{
			reqStr("StartTime"), reqStr("EndTime"), reqStr("InstanceId"), num("Limit"), num("Offset"),
			str("BackupName"), num("Strategy"), num("BackupWay"), num("BackupId"), str("DatabaseName"),
			num("Group"), num("Type"), str("BackupFormat"), num("StorageStrategy"),
		}},
		// RemoveBackups publishes no rate limit; CreateBackup's 20/s is assumed.
		"RemoveBackups": {handle: (*Server).mssqlRemoveBackups, params: []field{
			reqStr("InstanceId"), strs("BackupNames"), str("StartTime"), str("EndTime"),
		}},
		"DescribeBackupByFlowId": {handle: (*Server).mssqlDescribeBackupByFlowID, params: []field{
			reqStr("InstanceId"), reqStr("FlowId"),
		}},
		"CreateBackupMigration": {create: true, handle: (*Server).mssqlCreateMigration, params: []field{
			reqStr("InstanceId"), reqStr("RecoveryType"), reqStr("UploadType"), reqStr("MigrationName"), strs("BackupFiles"),
		}},
		"StartBackupMigration": {create: true, handle: (*Server).mssqlStartMigration, params: []field{
			reqStr("InstanceId"), reqStr("BackupMigrationId"),
		}},
		"ModifyBackupMigration": {handle: (*Server).mssqlModifyMigration, params: []field{
			reqStr("InstanceId"), reqStr("BackupMigrationId"), str("MigrationName"), str("RecoveryType"),
			str("UploadType"), strs("BackupFiles"),
			objs("DBRename", field{Name: "OldName", Kind: kString, Required: true}, field{Name: "NewName", Kind: kString, Required: true}),
		}},
		"DeleteBackupMigration": {handle: (*Server).mssqlDeleteMigration, params: []field{
			reqStr("InstanceId"), reqStr("BackupMigrationId"),
		}},
		"DescribeBackupMigration": {handle: (*Server).mssqlDescribeMigration, params: []field{
			reqStr("InstanceId"), str("BackupMigrationId"), str("MigrationName"), str("BackupFileName"),
			nums("StatusSet"), str("RecoveryType"), str("UploadType"), num("Limit"), num("Offset"),
			str("OrderBy"), str("OrderByType"),
		}},
		"DescribeDBInstances": {handle: (*Server).mssqlDescribeDBInstances, params: []field{
			num("ProjectId"), num("Status"), num("Offset"), num("Limit"), strs("InstanceIdSet"), num("PayMode"),
			str("VpcId"), str("SubnetId"), strs("VipSet"), strs("InstanceNameSet"), strs("VersionSet"),
			str("Zone"), strs("TagKeys"), str("SearchKey"), strs("UidSet"), str("InstanceType"),
			str("PaginationType"),
		}},
	}
}

func (s *Server) mssqlInstance(id, region string) (fixture.Instance, *apiError) {
	in, ok := s.instance(id, region, provider.SQLServer)
	if !ok {
		return in, errf(codeMssqlInstanceNotFound, "The instance %s does not exist.", id)
	}
	return in, nil
}

// mssqlReady rejects creates on instances that are not running or are busy.
func (s *Server) mssqlReady(in fixture.Instance) *apiError {
	if st := in.StatusOrDefault(); st != "running" {
		return errf(codeMssqlStatusInvalid, "The instance %s is %s; the operation needs a running instance.", in.ID, st)
	}
	if s.busy[in.ID] {
		return errf(codeMssqlStatusInvalid, "The instance %s is running another task.", in.ID)
	}
	return nil
}

func (s *Server) mssqlCreateBackup(c *call) (any, *apiError) {
	var req struct {
		Strategy        int64
		DBNames         []string
		InstanceId      string
		BackupName      string
		StorageStrategy int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	if req.Strategy != 0 && req.Strategy != 1 {
		return nil, errf(codeMssqlInputIllegal, "Strategy must be 0 (instance) or 1 (multi-database).")
	}
	if req.StorageStrategy != 0 && req.StorageStrategy != 1 {
		return nil, errf(codeMssqlInputIllegal, "StorageStrategy must be 0 or 1.")
	}
	if req.Strategy == 1 && len(req.DBNames) == 0 {
		return nil, errf(codeMssqlInputIllegal, "DBNames is required for a multi-database backup (Strategy 1).")
	}
	if !legalName(req.BackupName, 60) {
		return nil, errf(codeBackupNameIllegal, "The backup name contains invalid characters or is longer than 60.")
	}
	dbs := req.DBNames
	if req.Strategy == 0 {
		dbs = nil
		for _, d := range in.Databases {
			dbs = append(dbs, d.Name)
		}
	}
	for _, d := range dbs {
		if _, ok := hasDB(in, d); !ok {
			return nil, errf(codeDBNotFound, "The database %s does not exist on %s.", d, in.ID)
		}
	}
	if e := s.mssqlReady(in); e != nil {
		return nil, e
	}
	name := req.BackupName
	if name == "" {
		name = fmt.Sprintf("%s_%d", in.ID, c.now.Unix())
	}
	flow := s.st.nextFlow
	s.st.nextFlow++
	bid := s.st.nextMssqlBackup
	s.st.nextMssqlBackup++
	s.st.add(&job{
		kind: mssqlBackup, product: provider.SQLServer, instanceID: in.ID, region: in.RegionOrDefault(),
		name: name, created: c.now, dur: s.durationOf(in), failMsg: s.failJobs[in.ID],
		backupID: bid, flowID: flow, strategy: req.Strategy, storageStrategy: req.StorageStrategy, dbs: dbs,
		single: in.BackupFormat == "single",
	})
	return struct{ FlowId int64 }{flow}, nil
}

func (s *Server) mssqlDescribeFlowStatus(c *call) (any, *apiError) {
	var req struct{ FlowId int64 }
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.st.byFlow[req.FlowId]; j != nil && (j.kind == mssqlBackup || j.kind == mssqlMigration) && j.flowID == req.FlowId && j.flowID != 0 {
		st := map[provider.State]int64{provider.Succeeded: 0, provider.Failed: 1, provider.Running: 2}[j.at(c.now).state]
		return struct{ Status int64 }{st}, nil
	}
	return nil, errf(codeInvalidParameter, "The flow %d does not exist.", req.FlowId)
}

type mssqlBackupOut struct {
	FileName          string
	Size              int64
	StartTime         string
	EndTime           string
	InternalAddr      string
	ExternalAddr      string
	Id                int64 `json:",omitempty"` // not returned for single-database files
	Status            int64
	DBs               []string
	Strategy          int64
	StorageStrategy   int64
	BackupWay         int64
	BackupName        string
	GroupId           string
	BackupFormat      string
	Region            string
	CrossBackupAddr   []any
	CrossBackupStatus []any
}

// mssqlBackupsOf lists a backup as DescribeBackups shows it: one packed
// file with an Id, or, for an instance writing single-database files, one
// file per database and no Id ("对于单库备份文件不返回此值", the SDK's Backup.Id).
func (s *Server) mssqlBackupsOf(j *job, now time.Time) []mssqlBackupOut {
	ph := j.at(now)
	st := map[provider.State]int64{provider.Running: 0, provider.Succeeded: 1, provider.Failed: 2}[ph.state]
	one := func(file string, dbs []string, id int64, format string) mssqlBackupOut {
		out := mssqlBackupOut{
			FileName:  file,
			StartTime: fmtTime(j.created), EndTime: fmtTime(ph.finished), Id: id, Status: st,
			DBs: dbs, Strategy: j.strategy, StorageStrategy: j.storageStrategy,
			BackupWay: j.mssqlWay(), BackupName: j.name, GroupId: fmt.Sprintf("group-%d", j.flowID), BackupFormat: format,
			Region: j.region, CrossBackupAddr: []any{}, CrossBackupStatus: []any{},
		}
		if ph.state == provider.Succeeded {
			out.Size = 2048 + j.backupID%89*512
			out.InternalAddr = fmt.Sprintf("http://backup.sqlserver.internal/%s/%s", j.instanceID, file)
			out.ExternalAddr = fmt.Sprintf("https://sqlserver-backup-%s.cos.%s.myqcloud.com/%s/%s", s.fleet.AppID, j.region, j.instanceID, file)
		}
		return out
	}
	var out []mssqlBackupOut
	for _, f := range j.mssqlFiles() {
		if j.removed[f.name] {
			continue
		}
		if j.single {
			out = append(out, one(f.name, []string{f.db}, 0, "single"))
		} else {
			out = append(out, one(f.name, append([]string{}, j.dbs...), j.backupID, "pkg"))
		}
	}
	return out
}

type mssqlFile struct{ name, db string }

// mssqlFiles names a backup's files: one packed file, or one per database.
func (j *job) mssqlFiles() []mssqlFile {
	stamp := j.created.In(bjt).Format("20060102150405")
	if !j.single {
		return []mssqlFile{{name: fmt.Sprintf("%s_%s_%d.bak", j.instanceID, stamp, j.backupID)}}
	}
	var out []mssqlFile
	for _, db := range j.dbs {
		out = append(out, mssqlFile{name: fmt.Sprintf("%s_%s_%s.bak", j.instanceID, db, stamp), db: db})
	}
	return out
}

// mssqlWay is the backup's BackupWay: 0 the cloud's scheduled backup, 1 manual.
func (j *job) mssqlWay() int64 {
	if j.auto {
		return 0
	}
	return 1
}

// mssqlGone reports whether every file of a SQL Server backup was removed.
func (j *job) mssqlGone() bool {
	return j.deleted || j.kind == mssqlBackup && len(j.removed) > 0 && len(j.removed) >= len(j.mssqlFiles())
}

// mssqlRemoveBackups removes manual backup files by file name (at most 10
// a call), or every manual backup started within StartTime-EndTime. All
// named files are checked before any is removed, so a refused call removes
// nothing. Removal takes effect at once: no asynchrony is documented.
func (s *Server) mssqlRemoveBackups(c *call) (any, *apiError) {
	var req struct {
		InstanceId         string
		BackupNames        []string
		StartTime, EndTime string
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	byName := len(req.BackupNames) > 0
	if !byName && (req.StartTime == "" || req.EndTime == "") {
		return nil, errf(codeMssqlInputIllegal, "BackupNames, or StartTime and EndTime, are required.")
	}
	if len(req.BackupNames) > 10 {
		return nil, errf(codeMssqlInputIllegal, "At most 10 backups can be removed in one request; got %d.", len(req.BackupNames))
	}
	var from, to time.Time
	if !byName {
		var err1, err2 error
		from, err1 = time.ParseInLocation(tcTime, req.StartTime, bjt)
		to, err2 = time.ParseInLocation(tcTime, req.EndTime, bjt)
		if err1 != nil || err2 != nil {
			return nil, errf(codeMssqlInputIllegal, "StartTime and EndTime must look like 2006-01-02 15:04:05.")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	if st := in.StatusOrDefault(); st != "running" {
		return nil, errf(codeMssqlStatusInvalid, "The instance %s is %s; backups cannot be removed now.", in.ID, st)
	}
	type hit struct {
		j    *job
		file string
	}
	var hits []hit
	files := map[string]hit{}
	for _, j := range s.st.of(in.ID) {
		if j.kind != mssqlBackup || j.instanceID != in.ID || j.mssqlGone() {
			continue
		}
		for _, f := range j.mssqlFiles() {
			if !j.removed[f.name] {
				files[f.name] = hit{j, f.name}
			}
		}
		if !byName && j.mssqlWay() == 1 && !j.created.Before(from) && !j.created.After(to) &&
			j.at(c.now).state != provider.Running {
			for _, f := range j.mssqlFiles() {
				if !j.removed[f.name] {
					hits = append(hits, hit{j, f.name})
				}
			}
		}
	}
	for _, n := range req.BackupNames {
		h, ok := files[n]
		switch {
		case !ok:
			return nil, errf(codeMssqlInputIllegal, "The backup file %s does not exist on %s.", n, in.ID)
		case h.j.mssqlWay() != 1:
			return nil, errf(codeMssqlInputIllegal, "The backup file %s is a scheduled backup; only manual backups can be removed.", n)
		case h.j.at(c.now).state == provider.Running:
			return nil, errf(codeMssqlInputIllegal, "The backup file %s is still being created.", n)
		}
		hits = append(hits, h)
	}
	for _, h := range hits {
		if h.j.removed == nil {
			h.j.removed = map[string]bool{}
		}
		h.j.removed[h.file] = true
		if h.j.mssqlGone() && h.j.deleting.IsZero() {
			h.j.deleting = c.now
		}
	}
	return struct{}{}, nil
}

func (s *Server) mssqlDescribeBackups(c *call) (any, *apiError) {
	var req struct {
		StartTime, EndTime, InstanceId string
		Limit, Offset                  int64
		BackupName                     string
		Strategy, BackupWay, BackupId  *int64
		DatabaseName                   string
		Type                           *int64
		BackupFormat                   string
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	from, err1 := time.ParseInLocation(tcTime, req.StartTime, bjt)
	to, err2 := time.ParseInLocation(tcTime, req.EndTime, bjt)
	if err1 != nil || err2 != nil {
		return nil, errf(codeMssqlInputIllegal, "StartTime and EndTime must look like 2006-01-02 15:04:05.")
	}
	if req.Limit == 0 {
		req.Limit = 20
	}
	if req.Limit < 0 || req.Limit > 100 || req.Offset < 0 {
		return nil, errf(codeMssqlInputIllegal, "Limit must be 1-100 and Offset (a page number) not negative.")
	}
	if req.BackupFormat != "" && req.BackupFormat != "pkg" && req.BackupFormat != "single" {
		return nil, errf(codeMssqlInputIllegal, "BackupFormat must be pkg or single.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	var list []mssqlBackupOut
	if req.Type == nil || *req.Type == 1 { // only data backups exist here, no log backups
		mine := s.st.of(in.ID)
		for i := len(mine) - 1; i >= 0; i-- { // newest first
			j := mine[i]
			if j.kind != mssqlBackup || j.instanceID != in.ID || j.mssqlGone() {
				continue
			}
			if j.created.Before(from) || j.created.After(to) ||
				req.BackupName != "" && j.name != req.BackupName ||
				req.Strategy != nil && *req.Strategy != j.strategy ||
				req.BackupWay != nil && *req.BackupWay != j.mssqlWay() ||
				req.DatabaseName != "" && !contains(j.dbs, req.DatabaseName) {
				continue
			}
			for _, b := range s.mssqlBackupsOf(j, c.now) {
				if req.BackupId != nil && *req.BackupId != b.Id ||
					req.BackupFormat != "" && req.BackupFormat != b.BackupFormat ||
					req.DatabaseName != "" && !contains(b.DBs, req.DatabaseName) {
					continue
				}
				list = append(list, b)
			}
		}
	}
	// Offset is a page number in this product.
	lo, hi := page(len(list), req.Offset*req.Limit, req.Limit)
	return struct {
		TotalCount int
		Backups    []mssqlBackupOut
	}{len(list), append([]mssqlBackupOut{}, list[lo:hi]...)}, nil
}

func (s *Server) mssqlDescribeBackupByFlowID(c *call) (any, *apiError) {
	var req struct{ InstanceId, FlowId string }
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	flow, err := strconv.ParseInt(req.FlowId, 10, 64)
	if err == nil {
		for _, j := range s.st.of(in.ID) {
			if j.kind == mssqlBackup && j.instanceID == in.ID && j.flowID == flow && !j.mssqlGone() {
				b := s.mssqlBackupsOf(j, c.now)[0] // single-database files: the first left
				return struct {
					Id                                  int64 `json:",omitempty"`
					FileName, BackupName                string
					StartTime, EndTime                  string
					Size                                int64
					Strategy                            int64
					Status                              int64
					BackupWay                           int64
					DBs                                 []string
					InternalAddr, ExternalAddr, GroupId string
				}{b.Id, b.FileName, b.BackupName, b.StartTime, b.EndTime, b.Size, b.Strategy, b.Status,
					b.BackupWay, b.DBs, b.InternalAddr, b.ExternalAddr, b.GroupId}, nil
			}
		}
	}
	return nil, errf(codeBackupNotFound, "No backup was made by flow %s on %s.", req.FlowId, in.ID)
}

var (
	recoveryTypes = []string{"FULL", "FULL_LOG", "FULL_DIFF"}
	uploadTypes   = []string{"COS_URL", "COS_UPLOAD"}
)

func (s *Server) mssqlCreateMigration(c *call) (any, *apiError) {
	var req struct {
		InstanceId, RecoveryType, UploadType, MigrationName string
		BackupFiles                                         []string
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	if e := checkMigrationFields(req.RecoveryType, req.UploadType, req.MigrationName, req.BackupFiles); e != nil {
		return nil, e
	}
	if e := s.mssqlReady(in); e != nil {
		return nil, e
	}
	// Names are not unique in the cloud: a second migration with the same
	// name is a second migration.
	id := migrationID(s.st.nextMig)
	s.st.nextMig++
	s.st.add(&job{
		kind: mssqlMigration, product: provider.SQLServer, instanceID: in.ID, region: in.RegionOrDefault(),
		name: req.MigrationName, created: c.now, dur: s.durationOf(in),
		migID: id, recoveryType: req.RecoveryType, uploadType: req.UploadType, files: req.BackupFiles,
	})
	return struct{ BackupMigrationId string }{id}, nil
}

func checkMigrationFields(recovery, upload, name string, files []string) *apiError {
	if recovery != "" && !contains(recoveryTypes, recovery) {
		return errf(codeMssqlInputIllegal, "RecoveryType must be FULL, FULL_LOG or FULL_DIFF.")
	}
	if upload != "" && !contains(uploadTypes, upload) {
		return errf(codeMssqlInputIllegal, "UploadType must be COS_URL or COS_UPLOAD.")
	}
	if name != "" && !legalName(name, 60) {
		return errf(codeMigrationNameIllegal, "The migration name contains invalid characters or is longer than 60.")
	}
	if len(files) > 1 {
		return errf(codeMssqlInputIllegal, "BackupFiles takes exactly one file.")
	}
	return nil
}

func (s *Server) migration(instanceID, migID string) (*job, *apiError) {
	for _, j := range s.st.of(instanceID) {
		if j.kind == mssqlMigration && j.migID == migID && j.instanceID == instanceID && !j.deleted {
			return j, nil
		}
	}
	return nil, errf(codeMigrationNotExist, "The backup import task %s does not exist on %s.", migID, instanceID)
}

func (s *Server) mssqlStartMigration(c *call) (any, *apiError) {
	var req struct{ InstanceId, BackupMigrationId string }
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	j, e := s.migration(in.ID, req.BackupMigrationId)
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	if !j.started.IsZero() {
		s.mu.Unlock()
		return nil, errf(codeCosStatusErr, "The backup import task %s has already been started.", j.migID)
	}
	if len(j.files) == 0 {
		s.mu.Unlock()
		return nil, errf(codeBackupNotFound, "The backup import task %s names no backup file.", j.migID)
	}
	if e := s.mssqlReady(in); e != nil {
		s.mu.Unlock()
		return nil, e
	}
	flow := s.st.nextFlow
	s.st.nextFlow++
	j.flowID, j.started, j.checking = flow, c.now, true
	s.st.setFlow(j)
	j.failMsg = s.failJobs[in.ID]
	j.dur = s.durationOf(in)
	file, upload := j.files[0], j.uploadType
	s.mu.Unlock()

	// The source check may do I/O (a COS emulator), so it runs unlocked;
	// meanwhile the migration reads as running.
	msg := ""
	if upload == "COS_URL" {
		msg = s.checkSource(c, file)
	}
	s.mu.Lock()
	j.checking = false
	if msg != "" {
		j.failMsg, j.dur = msg, 0
	}
	s.mu.Unlock()
	return struct{ FlowId int64 }{flow}, nil
}

// checkSource returns the migration's failure message, or "" when the
// backup file can be read. The URL itself never reaches a message or log:
// it is presigned.
func (s *Server) checkSource(c *call, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "the backup file address is not an http(s) COS URL"
	}
	if s.o.SourceChecker == nil {
		return ""
	}
	if err := s.o.SourceChecker(c.ctx, raw); err != nil {
		return fmt.Sprintf("downloading the backup file failed: %v", redact(err.Error(), raw))
	}
	return ""
}

func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "<backup file URL>")
}

func (s *Server) mssqlModifyMigration(c *call) (any, *apiError) {
	var req struct {
		InstanceId, BackupMigrationId, MigrationName, RecoveryType, UploadType string
		BackupFiles                                                            []string
		DBRename                                                               []rename
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	j, e := s.migration(in.ID, req.BackupMigrationId)
	if e != nil {
		return nil, e
	}
	if e := checkMigrationFields(req.RecoveryType, req.UploadType, req.MigrationName, req.BackupFiles); e != nil {
		return nil, e
	}
	if !j.started.IsZero() {
		return nil, errf(codeCosStatusErr, "The backup import task %s has already been started.", j.migID)
	}
	if req.MigrationName != "" {
		j.name = req.MigrationName
	}
	if req.RecoveryType != "" {
		j.recoveryType = req.RecoveryType
	}
	if req.UploadType != "" {
		j.uploadType = req.UploadType
	}
	if req.BackupFiles != nil {
		j.files = req.BackupFiles
	}
	if req.DBRename != nil {
		j.dbRename = req.DBRename
	}
	return struct{ BackupMigrationId string }{j.migID}, nil
}

func (s *Server) mssqlDeleteMigration(c *call) (any, *apiError) {
	var req struct{ InstanceId, BackupMigrationId string }
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	j, e := s.migration(in.ID, req.BackupMigrationId)
	if e != nil {
		return nil, e
	}
	if !j.started.IsZero() && j.at(c.now).state == provider.Running {
		return nil, errf(codeCosStatusErr, "The backup import task %s is running.", j.migID)
	}
	j.deleted = true
	return struct{}{}, nil
}

type migrationStep struct {
	StepNo   int64
	StepName string
	StepId   string
	Status   int64
}

type migrationOut struct {
	MigrationId   string
	MigrationName string
	AppId         int64
	Region        string
	InstanceId    string
	RecoveryType  string
	UploadType    string
	BackupFiles   []string
	Status        int64
	CreateTime    string
	StartTime     string
	EndTime       string
	Message       string
	Detail        struct {
		StepAll  int64
		StepNow  int64
		Progress int64
		StepInfo []migrationStep
	}
	Action struct {
		AllAction     []string
		AllowedAction []string
	}
	IsRecovery string
	DBRename   []rename
}

func (s *Server) migrationOf(j *job, now time.Time) migrationOut {
	ph := j.at(now)
	appID, _ := strconv.ParseInt(s.fleet.AppID, 10, 64)
	m := migrationOut{
		MigrationId: j.migID, MigrationName: j.name, AppId: appID, Region: j.region, InstanceId: j.instanceID,
		RecoveryType: j.recoveryType, UploadType: j.uploadType, BackupFiles: append([]string{}, j.files...),
		CreateTime: fmtTime(j.created), StartTime: fmtTime(j.started), EndTime: fmtTime(ph.finished),
		DBRename: append([]rename{}, j.dbRename...),
	}
	m.Action.AllAction = []string{"view", "modify", "start", "incremental", "delete", "upload"}
	m.Detail.StepAll = 3
	stepStatus := func(done, running bool) int64 {
		switch {
		case done:
			return 1
		case running:
			return 3
		}
		return 4
	}
	switch {
	case j.started.IsZero():
		m.Status = 2
		m.Action.AllowedAction = []string{"view", "modify", "start", "delete", "upload"}
	case ph.state == provider.Running:
		m.Status = 7
		m.Detail.StepNow = 2
		m.Action.AllowedAction = []string{"view"}
	case ph.state == provider.Failed:
		m.Status = 10
		m.Message = j.failMsg
		m.Detail.StepNow = 2
		m.Action.AllowedAction = []string{"view", "delete"}
	default:
		m.Status = 9
		if j.recoveryType != "FULL" {
			m.Status = 8 // full phase done; waiting for an increment
			m.Action.AllowedAction = []string{"view", "incremental", "delete"}
		} else {
			m.Action.AllowedAction = []string{"view", "delete"}
		}
		m.Detail.StepNow = 3
	}
	m.Detail.Progress = int64(ph.progress)
	if j.started.IsZero() {
		m.Detail.Progress = 0
	}
	names := []string{"download backup file", "restore databases", "finish"}
	for i, n := range names {
		no := int64(i + 1)
		st := stepStatus(no < m.Detail.StepNow || m.Status == 9 || m.Status == 8, no == m.Detail.StepNow && m.Status == 7)
		if m.Status == 10 && no == m.Detail.StepNow {
			st = 2
		}
		m.Detail.StepInfo = append(m.Detail.StepInfo, migrationStep{StepNo: no, StepName: n, StepId: fmt.Sprintf("step-%d", no), Status: st})
	}
	return m
}

func (s *Server) mssqlDescribeMigration(c *call) (any, *apiError) {
	var req struct {
		InstanceId, BackupMigrationId, MigrationName, BackupFileName string
		StatusSet                                                    []int64
		RecoveryType, UploadType                                     string
		Limit, Offset                                                int64
		OrderBy, OrderByType                                         string
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.Limit == 0 {
		req.Limit = 100
	}
	if req.Limit < 0 || req.Offset < 0 {
		return nil, errf(codeMssqlInputIllegal, "Limit and Offset (a page number) must not be negative.")
	}
	switch req.OrderBy {
	case "", "name", "createTime", "startTime", "endTime":
	default:
		return nil, errf(codeMssqlInputIllegal, "OrderBy must be name, createTime, startTime or endTime.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.mssqlInstance(req.InstanceId, c.region)
	if e != nil {
		return nil, e
	}
	var list []migrationOut
	for _, j := range s.st.of(in.ID) {
		if j.kind != mssqlMigration || j.instanceID != in.ID || j.deleted {
			continue
		}
		m := s.migrationOf(j, c.now)
		if req.BackupMigrationId != "" && m.MigrationId != req.BackupMigrationId ||
			req.MigrationName != "" && m.MigrationName != req.MigrationName ||
			req.BackupFileName != "" && !anyMatch(m.BackupFiles, func(f string) bool { return strings.Contains(f, req.BackupFileName) }) ||
			len(req.StatusSet) > 0 && !anyOf(req.StatusSet, m.Status) ||
			req.RecoveryType != "" && m.RecoveryType != req.RecoveryType ||
			req.UploadType != "" && m.UploadType != req.UploadType {
			continue
		}
		list = append(list, m)
	}
	key := map[string]func(m migrationOut) string{
		"name":      func(m migrationOut) string { return m.MigrationName },
		"startTime": func(m migrationOut) string { return m.StartTime },
		"endTime":   func(m migrationOut) string { return m.EndTime },
	}[req.OrderBy]
	if key == nil {
		key = func(m migrationOut) string { return m.CreateTime }
	}
	asc := strings.EqualFold(req.OrderByType, "asc")
	sort.SliceStable(list, func(a, b int) bool {
		if asc {
			return key(list[a]) < key(list[b])
		}
		return key(list[a]) > key(list[b])
	})
	lo, hi := page(len(list), req.Offset*req.Limit, req.Limit)
	return struct {
		TotalCount         int
		BackupMigrationSet []migrationOut
	}{len(list), append([]migrationOut{}, list[lo:hi]...)}, nil
}

func (s *Server) mssqlDescribeDBInstances(c *call) (any, *apiError) {
	var req struct {
		Status          *int64
		Offset, Limit   int64
		InstanceIdSet   []string
		InstanceNameSet []string
		TagKeys         []string
		SearchKey       string
		InstanceType    string
		PaginationType  string
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.Limit == 0 {
		req.Limit = 100
	}
	if req.Limit < 0 || req.Limit > 100 || req.Offset < 0 {
		return nil, errf(codeMssqlInputIllegal, "Limit must be 1-100 and Offset not negative.")
	}
	offset := req.Offset * req.Limit
	switch req.PaginationType {
	case "", "pageNumber":
	case "offset":
		offset = req.Offset
	default:
		return nil, errf(codeMssqlInputIllegal, "PaginationType must be offset or pageNumber.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type item struct {
		InstanceId, Name, Region, Zone string
		ProjectId, RegionId, ZoneId    int64
		Status                         int64
		Vip                            string
		Vport                          int64
		CreateTime                     string
		Memory, Storage, Cpu           int64
		Version, VersionName           string
		Type, InstanceType             string
		ROFlag, HAFlag                 string
		PayMode                        int64
		ResourceTags                   []tcTag
		BackupCycleType                string
		BackupModel                    string
	}
	var all []item
	for i, in := range s.fleet.Select(provider.SQLServer, req.InstanceIdSet) {
		if c.region != "" && in.RegionOrDefault() != c.region {
			continue
		}
		status := map[string]int64{"running": 2, "creating": 1, "isolated": 4}[in.StatusOrDefault()]
		itype, ro := "HA", ""
		if in.ReadOnly {
			itype, ro = "RO", "RO"
		}
		if req.Status != nil && *req.Status != status ||
			len(req.InstanceIdSet) > 0 && !anyOf(req.InstanceIdSet, in.ID) ||
			len(req.InstanceNameSet) > 0 && !anyMatch(req.InstanceNameSet, func(n string) bool { return strings.Contains(in.Name, n) }) ||
			!allMatch(req.TagKeys, func(k string) bool { _, ok := in.Tags[k]; return ok }) ||
			req.SearchKey != "" && !strings.Contains(in.ID, req.SearchKey) && !strings.Contains(in.Name, req.SearchKey) ||
			req.InstanceType != "" && req.InstanceType != itype {
			continue
		}
		all = append(all, item{
			InstanceId: in.ID, Name: in.Name, Region: in.RegionOrDefault(), Zone: in.RegionOrDefault() + "-3",
			RegionId: 1, ZoneId: 100003, Status: status, Vip: fmt.Sprintf("10.0.1.%d", 10+i), Vport: 1433,
			CreateTime: "2024-01-01 00:00:00", Memory: 4, Storage: 100, Cpu: 2,
			Version: "2019", VersionName: "SQL Server 2019 Enterprise", Type: "CLOUD_HSSD", InstanceType: itype,
			ROFlag: ro, HAFlag: "MIRROR", PayMode: 0, ResourceTags: tagsOf(in), BackupCycleType: "weekly",
			BackupModel: "master_pkg",
		})
	}
	lo, hi := page(len(all), offset, req.Limit)
	return struct {
		TotalCount  int
		DBInstances []item
	}{len(all), append([]item{}, all[lo:hi]...)}, nil
}
