package tencentemu

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

func mongoActions() map[string]action {
	return map[string]action{
		"CreateBackupDBInstance": {create: true, handle: (*Server).mongoCreateBackup, params: []field{
			reqStr("InstanceId"), reqNum("BackupMethod"), str("BackupRemark"), num("BackupRetentionDays"),
		}},
		"DescribeAsyncRequestInfo": {handle: (*Server).mongoDescribeAsync, params: []field{reqStr("AsyncRequestId")}},
		"DescribeDBBackups": {handle: (*Server).mongoDescribeBackups, params: []field{
			reqStr("InstanceId"), num("BackupMethod"), num("Limit"), num("Offset"),
		}},
		"DescribeTransparentDataEncryptionStatus": {handle: (*Server).mongoDescribeTDE, params: []field{reqStr("InstanceId")}},
		"DescribeDBInstances": {handle: (*Server).mongoDescribeDBInstances, params: []field{
			strs("InstanceIds"), num("InstanceType"), num("ClusterType"), nums("Status"), str("VpcId"),
			str("SubnetId"), num("PayMode"), num("Limit"), num("Offset"), str("OrderBy"), str("OrderByType"),
			nums("ProjectIds"), str("SearchKey"), objs("Tags", str("TagKey"), str("TagValue")),
		}},
	}
}

func (s *Server) mongoCreateBackup(c *call) (any, *apiError) {
	var req struct {
		InstanceId          string
		BackupMethod        int64
		BackupRemark        string
		BackupRetentionDays *int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instance(req.InstanceId, c.region, provider.MongoDB)
	if !ok {
		return nil, errf(codeMongoNotFound, "The instance %s was not found.", req.InstanceId)
	}
	if req.BackupMethod != 0 && req.BackupMethod != 1 && req.BackupMethod != 3 {
		return nil, errf(codeInvalidParameter, "BackupMethod must be 0 (logical), 1 (physical) or 3 (snapshot).")
	}
	if r := req.BackupRetentionDays; r != nil && (*r < -2 || *r > 7300) {
		return nil, errf(codeInvalidParameter, "BackupRetentionDays must be -2, -1, 0 or 1-7300.")
	}
	if e := mongoMethodAllowed(in, req.BackupMethod); e != nil {
		return nil, e
	}
	if utf8.RuneCountInString(req.BackupRemark) > 256 {
		return nil, errf(codeInvalidParamValue, "BackupRemark is longer than 256 characters.")
	}
	if st := in.StatusOrDefault(); st != "running" {
		return nil, errf(codeMongoIllegalStatus, "The instance %s is %s; backups need a running instance.", in.ID, st)
	}
	if s.busy[in.ID] {
		return nil, errf(codeMongoStatusAbnormal, "The instance %s is in a status where operations are not allowed.", in.ID)
	}
	async := strconv.FormatInt(s.st.nextAsync, 10)
	s.st.nextAsync++
	back := s.st.nextBackID
	s.st.nextBackID++
	var ret int64
	if req.BackupRetentionDays != nil {
		ret = *req.BackupRetentionDays
	}
	s.st.add(&job{
		kind: mongoBackup, product: provider.MongoDB, instanceID: in.ID, region: in.RegionOrDefault(),
		name: req.BackupRemark, created: c.now, dur: s.durationOf(in), failMsg: s.failJobs[in.ID],
		backupID: back, asyncID: async, mongoMethod: req.BackupMethod, retention: ret,
	})
	return struct{ AsyncRequestId string }{async}, nil
}

// mongoMachineType is the instance's MachineType as DescribeDBInstances
// reports it: HIO10G (local disk) unless the fixture says otherwise.
func mongoMachineType(in fixture.Instance) string {
	if in.MachineType != "" {
		return in.MachineType
	}
	return "HIO10G"
}

// mongoMethodAllowed enforces the documented method rules (facts §3.1):
// local-disk instances do logical and physical, cloud-disk (HCD) instances
// physical and snapshot, and TDE rules out physical. The TDE code is
// documented; the code for the disk-kind rule is not, so InvalidParameter
// (what the API answers for a value it does not accept) stands in for it.
func mongoMethodAllowed(in fixture.Instance, method int64) *apiError {
	hcd := mongoMachineType(in) == "HCD"
	switch {
	case method == 1 && in.TDE:
		return errf(codeMongoTDEOpen, "Transparent data encryption is enabled on %s; physical backups are not supported.", in.ID)
	case method == 0 && hcd:
		return errf(codeInvalidParameter, "The cloud-disk instance %s does not support logical backups; use physical or snapshot.", in.ID)
	case method == 3 && !hcd:
		return errf(codeInvalidParameter, "The local-disk instance %s does not support snapshot backups; use logical or physical.", in.ID)
	}
	return nil
}

func (s *Server) mongoDescribeTDE(c *call) (any, *apiError) {
	var req struct{ InstanceId string }
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instance(req.InstanceId, c.region, provider.MongoDB)
	if !ok {
		return nil, errf(codeMongoNotFound, "The instance %s was not found.", req.InstanceId)
	}
	status := "close"
	if in.TDE {
		status = "open"
	}
	return struct {
		TransparentDataEncryptionStatus string
		KeyInfoList                     []struct{}
	}{status, nil}, nil
}

// mongoStatus is the lower-case task status: "initial" for the first tenth
// of the run, then "running", then "success" or "failed".
func mongoStatus(j *job, now time.Time) string {
	ph := j.at(now)
	switch ph.state {
	case provider.Succeeded:
		return "success"
	case provider.Failed:
		return "failed"
	}
	if now.Sub(j.created) < j.dur/10 {
		return "initial"
	}
	return "running"
}

func (s *Server) mongoDescribeAsync(c *call) (any, *apiError) {
	var req struct{ AsyncRequestId string }
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.st.byAsync[req.AsyncRequestId]; j != nil && j.kind == mongoBackup && j.asyncID == req.AsyncRequestId {
		ph := j.at(c.now)
		return struct{ Status, StartTime, EndTime string }{mongoStatus(j, c.now), fmtTime(j.created), fmtTime(ph.finished)}, nil
	}
	return nil, errf(codeInvalidParamValue, "The async request %s does not exist.", req.AsyncRequestId)
}

type mongoBackupOut struct {
	InstanceId   string
	BackupType   int64
	BackupName   string
	BackupDesc   string
	BackupSize   int64
	StartTime    string
	EndTime      string
	Status       int64
	BackupMethod int64
	BackId       int64
	DeleteTime   string
	BackupRegion string
	RestoreTime  string
}

func (s *Server) mongoDescribeBackups(c *call) (any, *apiError) {
	var req struct {
		InstanceId    string
		BackupMethod  *int64
		Limit, Offset int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.Limit < 0 || req.Limit > 100 || req.Offset < 0 {
		return nil, errf(codeInvalidParameter, "Limit must be at most 100 and Offset not negative.")
	}
	// The list's BackupMethod is 0 logical, 1 physical, 2 all, and unset
	// means logical only (the SDK model's DescribeDBBackupsRequest). No value
	// selects snapshots alone: they are listed under "all".
	listed := int64(0)
	if req.BackupMethod != nil {
		listed = *req.BackupMethod
	}
	if listed < 0 || listed > 2 {
		return nil, errf(codeInvalidParameter, "BackupMethod must be 0 (logical), 1 (physical) or 2 (all).")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instance(req.InstanceId, c.region, provider.MongoDB)
	if !ok {
		return nil, errf(codeMongoNotFound, "The instance %s was not found.", req.InstanceId)
	}
	var list []mongoBackupOut
	mine := s.st.of(in.ID)
	for i := len(mine) - 1; i >= 0; i-- { // newest first
		j := mine[i]
		if j.kind != mongoBackup || j.instanceID != in.ID || j.deleted {
			continue
		}
		// Only the last 7 days are listed; failed backups are not listed
		// (the list documents no failure status).
		ph := j.at(c.now)
		if c.now.Sub(j.created) > 7*24*time.Hour || ph.state == provider.Failed {
			continue
		}
		if listed != 2 && listed != j.mongoMethod {
			continue
		}
		b := mongoBackupOut{
			InstanceId: in.ID, BackupType: 1, BackupDesc: j.name,
			BackupName: fmt.Sprintf("%s_%s", in.ID, strings.ReplaceAll(fmtTime(j.created), " ", "_")),
			StartTime:  fmtTime(j.created), EndTime: fmtTime(ph.finished), Status: 1,
			BackupMethod: j.mongoMethod, BackId: j.backupID, BackupRegion: j.region,
		}
		if ph.state == provider.Succeeded {
			b.Status = 2
			b.BackupSize = 4096 + j.backupID%71*1024
		}
		list = append(list, b)
	}
	limit := req.Limit
	if limit == 0 {
		limit = int64(len(list)) // unset: all
	}
	lo, hi := page(len(list), req.Offset, limit)
	return struct {
		BackupList []mongoBackupOut
		TotalCount int
	}{append([]mongoBackupOut{}, list[lo:hi]...), len(list)}, nil
}

func (s *Server) mongoDescribeDBInstances(c *call) (any, *apiError) {
	var req struct {
		InstanceIds   []string
		InstanceType  int64
		ClusterType   *int64
		Status        []int64
		Limit, Offset int64
		SearchKey     string
		Tags          []tcTag
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.Limit == 0 {
		req.Limit = 20
	}
	if req.Limit < 0 || req.Limit > 100 || req.Offset < 0 {
		return nil, errf(codeInvalidParameter, "Limit must be 1-100 and Offset not negative.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type item struct {
		InstanceId, InstanceName string
		PayMode, ProjectId       int64
		ClusterType              int64
		Region, Zone             string
		NetType                  int64
		VpcId, SubnetId          string
		Status                   int64
		Vip                      string
		Vport                    int64
		CreateTime               string
		MongoVersion             string
		InstanceType             int64
		InstanceStatusDesc       string
		RealInstanceId           string
		MachineType              string
		Tags                     []tcTag
	}
	var all []item
	for i, in := range s.fleet.Select(provider.MongoDB, req.InstanceIds) {
		if c.region != "" && in.RegionOrDefault() != c.region {
			continue
		}
		status := map[string]int64{"running": 2, "creating": 0, "isolated": -2}[in.StatusOrDefault()]
		itype := int64(1)
		if in.ReadOnly {
			itype = 3
		}
		switch req.InstanceType {
		case 0:
		case -1:
			if itype == 2 {
				continue
			}
		default:
			if req.InstanceType != itype {
				continue
			}
		}
		if len(req.InstanceIds) > 0 && !anyOf(req.InstanceIds, in.ID) ||
			req.ClusterType != nil && *req.ClusterType != -1 && *req.ClusterType != 0 ||
			len(req.Status) > 0 && !anyOf(req.Status, status) ||
			req.SearchKey != "" && !strings.Contains(in.ID, req.SearchKey) && !strings.Contains(in.Name, req.SearchKey) ||
			!allMatch(req.Tags, func(t tcTag) bool { v, ok := in.Tags[t.TagKey]; return ok && v == t.TagValue }) {
			continue
		}
		all = append(all, item{
			InstanceId: in.ID, InstanceName: in.Name, Region: in.RegionOrDefault(), Zone: in.RegionOrDefault() + "-3",
			NetType: 1, Status: status, Vip: fmt.Sprintf("10.0.2.%d", 10+i), Vport: 27017,
			CreateTime: "2024-01-01 00:00:00", MongoVersion: "MONGO_40_WT", InstanceType: itype,
			InstanceStatusDesc: in.StatusOrDefault(), RealInstanceId: in.ID, MachineType: mongoMachineType(in), Tags: tagsOf(in),
		})
	}
	lo, hi := page(len(all), req.Offset, req.Limit)
	return struct {
		TotalCount      int
		InstanceDetails []item
	}{len(all), append([]item{}, all[lo:hi]...)}, nil
}
