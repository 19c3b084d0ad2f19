package tencentemu

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

func cdbActions() map[string]action {
	return map[string]action{
		"CreateBackup": {create: true, limit: 5, handle: (*Server).cdbCreateBackup, params: []field{
			reqStr("InstanceId"), reqStr("BackupMethod"),
			objs("BackupDBTableList", field{Name: "Db", Kind: kString, Required: true}, str("Table")),
			str("ManualBackupName"), str("EncryptionFlag"),
		}},
		"DescribeBackups": {limit: 10, handle: (*Server).cdbDescribeBackups, params: []field{
			reqStr("InstanceId"), num("Offset"), num("Limit"),
		}},
		// DeleteBackup publishes no rate limit; CreateBackup's 5/s is assumed.
		"DeleteBackup": {limit: 5, handle: (*Server).cdbDeleteBackup, params: []field{
			reqStr("InstanceId"), num("BackupId"),
		}},
		"DescribeDBInstances": {limit: 100, handle: (*Server).cdbDescribeDBInstances, params: []field{
			num("ProjectId"), nums("InstanceTypes"), strs("Vips"), nums("Status"), num("Offset"), num("Limit"),
			str("SecurityGroupId"), nums("PayTypes"), strs("InstanceNames"), nums("TaskStatus"),
			strs("EngineVersions"), nums("VpcIds"), nums("ZoneIds"), nums("SubnetIds"), nums("CdbErrors"),
			str("OrderBy"), str("OrderDirection"), num("WithSecurityGroup"), num("WithExCluster"),
			str("ExClusterId"), strs("InstanceIds"), num("InitFlag"), num("WithDr"), num("WithRo"),
			num("WithMaster"), strs("DeployGroupIds"), strs("TagKeysForSearch"), strs("CageIds"),
			strs("TagValues"), strs("UniqueVpcIds"), strs("UniqSubnetIds"),
			objs("Tags", str("Key"), str("Value")), strs("ProxyVips"), strs("ProxyIds"),
			strs("EngineTypes"), boolean("QueryClusterInfo"),
		}},
	}
}

// legalName is the emulator's notion of a legal backup or migration name:
// letters (any script), digits and - _ . : @, at most max characters.
func legalName(name string, max int) bool {
	if utf8.RuneCountInString(name) > max {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.:@", r) {
			return false
		}
	}
	return true
}

func (s *Server) cdbCreateBackup(c *call) (any, *apiError) {
	var req struct {
		InstanceId        string
		BackupMethod      string
		BackupDBTableList []tableItem
		ManualBackupName  string
		EncryptionFlag    string
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instance(req.InstanceId, c.region, provider.MySQL)
	if !ok {
		return nil, errf(codeCdbInstanceNotFound, "The instance %s does not exist.", req.InstanceId)
	}
	switch req.BackupMethod {
	case "logical", "physical", "snapshot":
	default:
		return nil, errf(codeInvalidParameter, "BackupMethod must be logical, physical or snapshot, not %q.", req.BackupMethod)
	}
	if len(req.BackupDBTableList) > 0 && req.BackupMethod != "logical" {
		return nil, errf(codeInvalidParameter, "BackupDBTableList can only be set for a logical backup.")
	}
	switch req.EncryptionFlag {
	case "", "on", "off":
	default:
		return nil, errf(codeInvalidParameter, "EncryptionFlag must be on or off.")
	}
	// cdb answers with its own codes only: its CreateBackup documents no
	// name or database code, so bad values are InvalidParameter.
	if !legalName(req.ManualBackupName, 60) {
		return nil, errf(codeInvalidParameter, "ManualBackupName must be at most 60 letters, digits or - _ . : @.")
	}
	for _, t := range req.BackupDBTableList {
		db, ok := hasDB(in, t.Db)
		if !ok {
			return nil, errf(codeInvalidParameter, "The database %s does not exist on %s.", t.Db, in.ID)
		}
		if t.Table != "" && !contains(db.Tables, t.Table) {
			return nil, errf(codeInvalidParameter, "The table %s.%s does not exist on %s.", t.Db, t.Table, in.ID)
		}
	}
	if basic := cdbDeviceType(in); (basic == "BASIC" || basic == "BASIC_V2") && req.BackupMethod != "snapshot" {
		return nil, errf(codeCdbActionNotSupport, "The Basic-edition instance %s (DeviceType %s) supports only snapshot backups.", in.ID, basic)
	}
	if in.ReadOnly {
		return nil, errf(codeCdbActionNotSupport, "Manual backups are not supported on the read-only instance %s.", in.ID)
	}
	if st := in.StatusOrDefault(); st != "running" {
		return nil, errf(codeCdbStatusConflict, "The instance %s is %s; backups need a running instance.", in.ID, st)
	}
	if s.busy[in.ID] {
		return nil, errf(codeCdbActionInProcess, "The instance %s is performing another task.", in.ID)
	}
	for _, j := range s.st.of(in.ID) {
		if j.kind == cdbBackup && j.instanceID == in.ID && !j.deleted && j.at(c.now).state == provider.Running {
			return nil, errf(codeCdbActionInProcess, "The instance %s is already running manual backup %d.", in.ID, j.backupID)
		}
	}
	id := s.st.nextCdbBackup
	s.st.nextCdbBackup++
	s.st.add(&job{
		kind: cdbBackup, product: provider.MySQL, instanceID: in.ID, region: in.RegionOrDefault(),
		name: req.ManualBackupName, created: c.now, dur: s.durationOf(in), failMsg: s.failJobs[in.ID],
		backupID: id, method: req.BackupMethod, tables: req.BackupDBTableList, crypt: req.EncryptionFlag,
	})
	return struct{ BackupId int64 }{id}, nil
}

type cdbRemoteInfo struct {
	SubBackupId int64
	Region      string
	Status      string
	StartTime   string
	FinishTime  string
	Url         string
}

type cdbBackupInfo struct {
	Name             string
	Size             int64
	Date             string
	IntranetUrl      string
	InternetUrl      string
	Type             string
	BackupId         int64
	Status           string
	FinishTime       string
	Creator          string
	StartTime        string
	Method           string
	Way              string
	ManualBackupName string
	SaveMode         string
	Region           string
	RemoteInfo       []cdbRemoteInfo
	CosStorageType   int64
	InstanceId       string
	Progress         int64
	EncryptionFlag   string
	ExecutedGTIDSet  string
	MD5              string
}

func (s *Server) cdbDescribeBackups(c *call) (any, *apiError) {
	var req struct {
		InstanceId    string
		Offset, Limit int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.Limit == 0 {
		req.Limit = 20
	}
	if req.Limit < 0 || req.Limit > 100 {
		return nil, errf(codeInvalidParameter, "Limit must be between 1 and 100.")
	}
	if req.Offset < 0 {
		return nil, errf(codeInvalidParameter, "Offset must not be negative.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instance(req.InstanceId, c.region, provider.MySQL)
	if !ok {
		return nil, errf(codeCdbInstanceNotFound, "The instance %s does not exist.", req.InstanceId)
	}
	var mine []*job
	for _, j := range s.st.of(in.ID) {
		if j.kind == cdbBackup && j.instanceID == in.ID && !j.goneAt(c.now) {
			mine = append(mine, j)
		}
	}
	// Newest first, as the console and API list them.
	sort.SliceStable(mine, func(a, b int) bool { return mine[a].backupID > mine[b].backupID })
	lo, hi := page(len(mine), req.Offset, req.Limit)
	items := make([]cdbBackupInfo, 0, hi-lo)
	for _, j := range mine[lo:hi] {
		ph := j.at(c.now)
		st := map[provider.State]string{provider.Running: "RUNNING", provider.Succeeded: "SUCCESS", provider.Failed: "FAILED"}[ph.state]
		method := "full"
		if len(j.tables) > 0 {
			method = "partial"
		}
		crypt := j.crypt
		if crypt == "" {
			crypt = "off"
		}
		it := cdbBackupInfo{
			Name:      fmt.Sprintf("%s_backup_%s_%d", in.ID, j.created.In(bjt).Format("20060102150405"), j.backupID),
			Date:      fmtTime(j.created),
			Type:      j.method,
			BackupId:  j.backupID,
			Status:    st,
			StartTime: fmtTime(j.created), FinishTime: fmtTime(ph.finished),
			Creator: s.fleet.Uin, Method: method, Way: "manual", ManualBackupName: j.name,
			SaveMode: "save_mode_regular", Region: j.region, RemoteInfo: []cdbRemoteInfo{},
			CosStorageType: 2, InstanceId: in.ID, Progress: int64(ph.progress), EncryptionFlag: crypt,
		}
		if j.auto {
			it.Way, it.ManualBackupName, it.Creator = "automatic", "", "SYSTEM"
		}
		if ph.state == provider.Succeeded {
			it.Size = 1<<20 + j.backupID%97*4096
			it.IntranetUrl = fmt.Sprintf("http://backup.cdb.internal/%s/%d", in.ID, j.backupID)
			it.InternetUrl = fmt.Sprintf("https://cdb-backup-%s.cos.%s.myqcloud.com/%s/%d", s.fleet.AppID, j.region, in.ID, j.backupID)
			it.MD5 = fmt.Sprintf("%032x", j.backupID)
		}
		items = append(items, it)
	}
	return struct {
		TotalCount int
		Items      []cdbBackupInfo
	}{len(mine), items}, nil
}

type tcTag struct {
	TagKey   string
	TagValue string
}

// tagsOf renders fixture tags sorted by key, in the TagKey/TagValue shape.
func tagsOf(in fixture.Instance) []tcTag {
	out := make([]tcTag, 0, len(in.Tags))
	for k, v := range in.Tags {
		out = append(out, tcTag{k, v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].TagKey < out[b].TagKey })
	return out
}

func anyOf[T comparable](list []T, v T) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

func (s *Server) cdbDescribeDBInstances(c *call) (any, *apiError) {
	var req struct {
		InstanceTypes    []int64
		Status           []int64
		Offset, Limit    int64
		InstanceNames    []string
		InstanceIds      []string
		TagKeysForSearch []string
		TagValues        []string
		Tags             []struct{ Key, Value string }
		WithRo           *int64
		WithMaster       *int64
		TaskStatus       []int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.Limit == 0 {
		req.Limit = 20
	}
	if req.Limit < 0 || req.Limit > 2000 {
		return nil, errf(codeInvalidParameter, "Limit must be between 1 and 2000.")
	}
	if req.Offset < 0 {
		return nil, errf(codeInvalidParameter, "Offset must not be negative.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type item struct {
		InstanceId, InstanceName, Region, Zone string
		InstanceType, Status, TaskStatus       int64
		EngineVersion, EngineType, DeviceType  string
		Vip                                    string
		Vport                                  int64
		CdbError, ProjectId                    int64
		Memory, Volume                         int64
		TagList                                []tcTag
	}
	var all []item
	for i, in := range s.fleet.Select(provider.MySQL, req.InstanceIds) {
		if c.region != "" && in.RegionOrDefault() != c.region {
			continue
		}
		status := map[string]int64{"running": 1, "creating": 0, "isolating": 4, "isolated": 5}[in.StatusOrDefault()]
		itype := int64(1)
		if in.ReadOnly {
			itype = 3
		}
		if len(req.InstanceIds) > 0 && !anyOf(req.InstanceIds, in.ID) ||
			len(req.InstanceTypes) > 0 && !anyOf(req.InstanceTypes, itype) ||
			len(req.Status) > 0 && !anyOf(req.Status, status) ||
			len(req.TaskStatus) > 0 && !anyOf(req.TaskStatus, 0) ||
			req.WithRo != nil && *req.WithRo == 0 && itype == 3 ||
			req.WithMaster != nil && *req.WithMaster == 0 && itype == 1 {
			continue
		}
		if len(req.InstanceNames) > 0 && !anyMatch(req.InstanceNames, func(n string) bool { return strings.Contains(in.Name, n) }) {
			continue
		}
		// "Instances being created cannot be found by tag."
		tagFilter := len(req.Tags) > 0 || len(req.TagKeysForSearch) > 0 || len(req.TagValues) > 0
		if tagFilter && status == 0 {
			continue
		}
		if !allMatch(req.TagKeysForSearch, func(k string) bool { _, ok := in.Tags[k]; return ok }) ||
			!allMatch(req.TagValues, func(v string) bool { return hasTagValue(in, v) }) ||
			!allMatch(req.Tags, func(t struct{ Key, Value string }) bool { v, ok := in.Tags[t.Key]; return ok && v == t.Value }) {
			continue
		}
		all = append(all, item{
			InstanceId: in.ID, InstanceName: in.Name, Region: in.RegionOrDefault(), Zone: in.RegionOrDefault() + "-3",
			InstanceType: itype, Status: status, EngineVersion: "8.0", EngineType: "InnoDB", DeviceType: cdbDeviceType(in),
			Vip: fmt.Sprintf("10.0.0.%d", 10+i), Vport: 3306, Memory: 4000, Volume: 200, TagList: tagsOf(in),
		})
	}
	lo, hi := page(len(all), req.Offset, req.Limit)
	return struct {
		TotalCount int
		Items      []item
	}{len(all), append([]item{}, all[lo:hi]...)}, nil
}

// cdbDeviceType is the instance's DeviceType: UNIVERSAL unless the fixture
// says otherwise.
func cdbDeviceType(in fixture.Instance) string {
	if in.DeviceType != "" {
		return in.DeviceType
	}
	return "UNIVERSAL"
}

func anyMatch[T any](list []T, f func(T) bool) bool {
	for _, e := range list {
		if f(e) {
			return true
		}
	}
	return false
}

// allMatch is true for an empty list: an absent filter keeps everything.
func allMatch[T any](list []T, f func(T) bool) bool {
	for _, e := range list {
		if !f(e) {
			return false
		}
	}
	return true
}

func hasTagValue(in fixture.Instance, v string) bool {
	for _, tv := range in.Tags {
		if tv == v {
			return true
		}
	}
	return false
}

// cdbDeleteBackup deletes a manual backup. Deletion is asynchronous: the
// backup stays listed for deleteDuration, then is gone (facts §1.3).
func (s *Server) cdbDeleteBackup(c *call) (any, *apiError) {
	var req struct {
		InstanceId string
		BackupId   int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instance(req.InstanceId, c.region, provider.MySQL)
	if !ok {
		return nil, errf(codeCdbInstanceNotFound, "The instance %s does not exist.", req.InstanceId)
	}
	for _, j := range s.st.of(in.ID) {
		if j.kind != cdbBackup || j.instanceID != in.ID || j.backupID != req.BackupId || j.goneAt(c.now) {
			continue
		}
		switch {
		case j.auto:
			return nil, errf(codeCdbBackupError, "The backup %d is an automatic backup; only manual backups can be deleted.", j.backupID)
		case j.at(c.now).state == provider.Running:
			return nil, errf(codeCdbBackupError, "The backup %d is still running.", j.backupID)
		}
		if j.deleting.IsZero() {
			j.deleting = c.now
		}
		return struct{}{}, nil
	}
	return nil, errf(codeInvalidParameter, "The backup %d does not exist on %s.", req.BackupId, in.ID)
}
