package tencentemu

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

type jobKind int

const (
	cdbBackup jobKind = iota
	mssqlBackup
	mssqlMigration
	mongoBackup
)

type tableItem struct {
	Db    string
	Table string `json:",omitempty"`
}

type rename struct {
	OldName string
	NewName string
}

// job is a backup or import. It stores only what happened and when; its
// state is computed from Now() on every read, so a virtual clock drives it.
type job struct {
	kind       jobKind
	product    provider.Product
	instanceID string
	region     string
	name       string
	created    time.Time
	dur        time.Duration
	failMsg    string // non-empty: the job ends failed with this text

	backupID int64  // cdb BackupId, sqlserver backup Id, mongodb BackId
	flowID   int64  // sqlserver CreateBackup / StartBackupMigration FlowId
	asyncID  string // mongodb AsyncRequestId

	method string // cdb BackupMethod
	tables []tableItem
	crypt  string

	strategy, storageStrategy int64
	dbs                       []string
	single                    bool // sqlserver: single-database backup files

	migID, recoveryType, uploadType string
	files                           []string
	dbRename                        []rename
	started                         time.Time // migration: zero until StartBackupMigration
	checking                        bool      // migration: SourceChecker still running
	seeded                          bool      // migration pre-created for the seed example

	mongoMethod, retention int64
	deleted                bool
	// deleting is when a backup's deletion was asked for: it is listed
	// for deleteDuration more, then gone.
	deleting time.Time
	// auto marks a backup the cloud made on its own schedule (SeedBackup).
	auto bool
	// removed holds the SQL Server backup files RemoveBackups removed.
	removed map[string]bool
}

// deleteDuration is how long a deleted backup stays listed.
const deleteDuration = 2 * time.Second

// goneAt reports whether the job no longer exists at now.
func (j *job) goneAt(now time.Time) bool {
	return j.deleted || !j.deleting.IsZero() && !now.Before(j.deleting.Add(deleteDuration))
}

// phase is a job's state at now.
type phase struct {
	state    provider.State
	progress int       // 0-100
	begin    time.Time // zero for a migration not started
	finished time.Time // zero while running
}

func (j *job) at(now time.Time) phase {
	begin := j.created
	if j.kind == mssqlMigration {
		begin = j.started
		if begin.IsZero() {
			return phase{state: provider.Running}
		}
		if j.checking {
			return phase{state: provider.Running, begin: begin}
		}
	}
	end := begin.Add(j.dur)
	if j.kind == mssqlMigration && j.failMsg != "" && j.dur == 0 {
		return phase{state: provider.Failed, progress: 0, begin: begin, finished: begin}
	}
	if now.Before(end) {
		p := 0
		if j.dur > 0 && now.After(begin) {
			p = int(int64(now.Sub(begin)) * 100 / int64(j.dur))
		}
		return phase{state: provider.Running, progress: min(max(p, 0), 99), begin: begin}
	}
	if j.failMsg != "" {
		return phase{state: provider.Failed, progress: 100, begin: begin, finished: end}
	}
	return phase{state: provider.Succeeded, progress: 100, begin: begin, finished: end}
}

// state holds every job and the id counters. Guarded by Server.mu.
// Besides jobs, in creation order, it indexes them by instance, flow and
// async request: a simulated night holds tens of thousands of jobs and every
// status read looks one up.
type state struct {
	jobs                                     []*job
	byInstance                               map[string][]*job // in creation order
	byFlow                                   map[int64]*job
	byAsync                                  map[string]*job
	nextCdbBackup, nextFlow, nextMssqlBackup int64
	nextAsync, nextBackID, nextMig           int64
}

func (st *state) init() {
	// Start near the seed examples' ids so answers look like the docs.
	st.nextCdbBackup = 102996666
	st.nextFlow = 5293
	st.nextMssqlBackup = 3900001
	st.nextAsync = 4773
	st.nextBackID = 870001
	st.nextMig = 1
}

func (st *state) add(j *job) {
	st.jobs = append(st.jobs, j)
	if st.byInstance == nil {
		st.byInstance, st.byFlow, st.byAsync = map[string][]*job{}, map[int64]*job{}, map[string]*job{}
	}
	st.byInstance[j.instanceID] = append(st.byInstance[j.instanceID], j)
	st.setFlow(j)
	if j.asyncID != "" {
		st.byAsync[j.asyncID] = j
	}
}

// setFlow indexes j under its flow id, once it has one (a migration gets
// it when started). Flow ids come from one counter, so none is shared.
func (st *state) setFlow(j *job) {
	if j.flowID != 0 {
		st.byFlow[j.flowID] = j
	}
}

// of is the instance's jobs in creation order.
func (st *state) of(instanceID string) []*job { return st.byInstance[instanceID] }

// migrationID derives an id shaped like mssql-backup-migration-kpl74n9l from
// a counter, reproducibly.
func migrationID(n int64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatInt(n, 10)))
	v := h.Sum64()
	b := make([]byte, 8)
	for i := range b {
		b[i] = alphabet[v%36]
		v /= 36
	}
	return "mssql-backup-migration-" + string(b)
}

// SeedMigrationID is the migration pre-created on mssql-rdc0gajn so the
// StartBackupMigration seed example works as written.
const SeedMigrationID = "mssql-backup-migration-kpl74n9l"

// seed pre-creates the fixture state the seed examples refer to.
func (s *Server) seed() {
	in, ok := s.fleet.Find("mssql-rdc0gajn")
	if !ok {
		return
	}
	s.st.add(&job{
		kind: mssqlMigration, product: provider.SQLServer, instanceID: in.ID, region: in.RegionOrDefault(),
		name: "seed-example-import", created: s.o.Now(), dur: s.durationOf(in),
		migID: SeedMigrationID, recoveryType: "FULL", uploadType: "COS_URL",
		files:  []string{"https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/seed/db1.bak"},
		seeded: true,
	})
}

func (s *Server) durationOf(in fixture.Instance) time.Duration {
	if in.Duration > 0 {
		return in.Duration
	}
	return s.o.JobDuration
}

// instance finds a fleet instance of product p. A region given by the
// request must match the instance's: instances are regional.
func (s *Server) instance(id, region string, p provider.Product) (fixture.Instance, bool) {
	in, ok := s.fleet.Find(id)
	if !ok || in.Product != p {
		return fixture.Instance{}, false
	}
	if region != "" && region != in.RegionOrDefault() {
		return fixture.Instance{}, false
	}
	return in, true
}

func hasDB(in fixture.Instance, name string) (fixture.Database, bool) {
	for _, d := range in.Databases {
		if d.Name == name {
			return d, true
		}
	}
	return fixture.Database{}, false
}

// Jobs returns every backup and import the emulator holds, all products, in
// creation order, with states as of Now(). The migration pre-created for the
// seed example is left out until someone starts it.
func (s *Server) Jobs() []fixture.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	var out []fixture.Job
	for _, j := range s.st.jobs {
		if j.seeded && j.started.IsZero() {
			continue
		}
		ph := j.at(now)
		fj := fixture.Job{
			Product: j.product, Op: provider.Backup, InstanceID: j.instanceID, Name: j.name,
			State: ph.state, Created: j.created, Finished: ph.finished, Auto: j.auto, Deleted: j.deleting,
		}
		switch j.kind {
		case cdbBackup:
			fj.ID = strconv.FormatInt(j.backupID, 10)
			fj.Method = j.method
		case mssqlBackup:
			fj.ID = strconv.FormatInt(j.flowID, 10)
			if j.storageStrategy != 0 {
				fj.Settings = []string{"StorageStrategy=" + strconv.FormatInt(j.storageStrategy, 10)}
			}
		case mongoBackup:
			fj.ID = j.asyncID
			fj.Method = map[int64]string{0: "logical", 1: "physical", 3: "snapshot"}[j.mongoMethod]
			if j.retention != 0 {
				fj.Settings = []string{"BackupRetentionDays=" + strconv.FormatInt(j.retention, 10)}
			}
		case mssqlMigration:
			fj.Op = provider.Import
			fj.ID = j.migID
			if j.started.IsZero() {
				fj.Detail = "created, not started"
			}
		}
		if ph.state == provider.Failed {
			fj.Detail = j.failMsg
		}
		out = append(out, fj)
	}
	return out
}

// SeedBackup adds a successful backup that backupflow did not make, created
// at created: the cloud's automatic backup (auto), or a manual one named
// name, made by hand or by another tool. It returns the id Jobs reports
// for it (cdb: the BackupId; sqlserver: a flow id, as for backupflow's).
// Retention tests hold such backups next to backupflow's own.
func (s *Server) SeedBackup(instanceID, name string, auto bool, created time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.fleet.Find(instanceID)
	if !ok {
		return "", fmt.Errorf("tencentemu: seed backup: no instance %s", instanceID)
	}
	j := &job{product: in.Product, instanceID: in.ID, region: in.RegionOrDefault(), name: name,
		created: created, auto: auto}
	switch in.Product {
	case provider.MySQL:
		j.kind, j.method, j.backupID = cdbBackup, "physical", s.st.nextCdbBackup
		s.st.nextCdbBackup++
		s.st.add(j)
		return strconv.FormatInt(j.backupID, 10), nil
	case provider.SQLServer:
		j.kind, j.backupID, j.flowID = mssqlBackup, s.st.nextMssqlBackup, s.st.nextFlow
		s.st.nextMssqlBackup++
		s.st.nextFlow++
		j.single = in.BackupFormat == "single"
		for _, d := range in.Databases {
			j.dbs = append(j.dbs, d.Name)
		}
		s.st.add(j)
		return strconv.FormatInt(j.flowID, 10), nil
	}
	return "", fmt.Errorf("tencentemu: seed backup: %s backups cannot be seeded", in.Product)
}
