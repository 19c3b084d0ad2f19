package provider

import (
	"context"
	"fmt"
	"time"
)

// Product names a managed database API. The string is what appears in
// messages, config and chat commands.
type Product string

const (
	MySQL     Product = "mysql"      // TencentDB for MySQL, cdb 2017-03-20
	SQLServer Product = "sqlserver"  // TencentDB for SQL Server, sqlserver 2018-03-28
	MongoDB   Product = "mongodb"    // TencentDB for MongoDB, mongodb 2019-07-25
	HuaweiRDS Product = "huawei-rds" // Huawei Cloud RDS v3
)

// Products lists every product in a stable order.
var Products = []Product{MySQL, SQLServer, MongoDB, HuaweiRDS}

// ProductOf infers the product from an instance id's shape: cdb-…, mssql-…,
// cmgo-…, or a 32-hex Huawei id ending in "in0N". ok is false when no shape
// matches.
func ProductOf(instanceID string) (Product, bool) {
	switch {
	case hasPrefix(instanceID, "cdb-"):
		return MySQL, true
	case hasPrefix(instanceID, "mssql-"):
		return SQLServer, true
	case hasPrefix(instanceID, "cmgo-"):
		return MongoDB, true
	case huaweiID(instanceID):
		return HuaweiRDS, true
	}
	return "", false
}

// Op is what a job does.
type Op string

const (
	Backup Op = "backup" // a manual backup
	Import Op = "import" // SQL Server cold-backup import (backup migration)
)

// Table selects a MySQL database, or one table in it, for a logical backup.
type Table struct {
	DB    string `json:"db"`
	Table string `json:"table,omitempty"`
}

// Spec is everything needed to start one job. Name is deterministic per job
// (derived from the job id) so a redelivered message can find what an earlier
// delivery started: it becomes ManualBackupName (cdb), BackupName (sqlserver),
// BackupRemark (mongodb), name (Huawei) or MigrationName (import).
type Spec struct {
	Op         Op       `json:"op"`
	Product    Product  `json:"product"`
	Region     string   `json:"region,omitempty"`
	InstanceID string   `json:"instance"`
	Name       string   `json:"name"`
	Method     string   `json:"method,omitempty"`    // mysql: logical|physical|snapshot; mongodb: logical|physical|snapshot
	Databases  []string `json:"databases,omitempty"` // sqlserver multi-database backup; Huawei SQL Server partial backup
	Tables     []Table  `json:"tables,omitempty"`    // mysql BackupDBTableList (logical only)
	SourceURL  string   `json:"-"`                   // import: presigned object URL; never serialised, never logged
	// Description is free text for clouds that keep one (Huawei).
	Description string `json:"description,omitempty"`
	// KeepUntilGone keeps a SQL Server backup until the instance is
	// decommissioned (CreateBackup StorageStrategy 1) instead of following
	// the retention policy.
	KeepUntilGone bool `json:"keepUntilGone,omitempty"`
	// RetentionDays is MongoDB's BackupRetentionDays: 0 the configured
	// days (default), 1-7300 days, -1 the long-term policy, -2 forever.
	RetentionDays int `json:"retentionDays,omitempty"`
	// Individually backs each of Databases up on its own (Huawei
	// backup_database_individually; SQL Server and PostgreSQL engines).
	Individually bool `json:"individually,omitempty"`
}

// State of a cloud job.
type State int

const (
	Running State = iota
	Succeeded
	Failed
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a job's state as the cloud reports it.
type Status struct {
	State    State
	Progress int    // percent, when the cloud reports it; -1 when unknown
	BackupID string // the cloud's backup/migration id, when known
	// Detail is the cloud's explanation of a failure (e.g. migration Message),
	// or its raw status value, for the notification and the result log line.
	Detail string
	// Took is how long the job ran by the cloud's own start and finish
	// times, when it reports both; 0 when it does not.
	Took time.Duration
	// Started is when the cloud says the job started, when its answer
	// carries it: what its Progress counts from. Zero when it does not.
	Started time.Time
}

// Ref is a provider's opaque handle on a started job, e.g. "backup/102996666",
// "flow/5293", "async/4773". It travels in messages between functions, so it
// must be a short printable string.
type Ref string

// Provider is implemented by each cloud adapter. Every method validates its
// input before any call, wraps cloud errors as *apierr.Error, and is safe for
// concurrent use.
type Provider interface {
	// Start starts the job. It is not idempotent by itself: callers use Find
	// first. For an import it creates and starts the migration.
	Start(ctx context.Context, spec Spec) (Ref, error)
	// Status reports the state of a job started by Start or found by Find.
	Status(ctx context.Context, spec Spec, ref Ref) (Status, error)
	// Find looks for a job with spec.Name on spec.InstanceID. found is false
	// (and err nil) when there is none.
	Find(ctx context.Context, spec Spec) (ref Ref, found bool, err error)
}

// MethodResolver is implemented by a provider whose default backup method
// depends on the instance (MySQL: its device type). The nightly fan-out
// asks once for all its targets that name no method, in batches, so a
// create needs no lookup of its own: that lookup was a second call per
// create, made inside the create's rate-limit slot, and a fault on it
// wasted the slot (a create failed twice as often as the fault rate).
// An instance missing from the answer keeps no method and Start looks it
// up as before.
type MethodResolver interface {
	// DefaultMethods returns the default method of each of ids (at most
	// MethodBatch) that the cloud lists.
	DefaultMethods(ctx context.Context, region string, ids []string) (map[string]string, error)
}

// MethodBatch is the most ids one DefaultMethods call takes.
const MethodBatch = 100

// Limits are the published per-action rate limits the fan-out must respect
// (from the seed documents) and a typical job duration for the first poll.
type Limits struct {
	CreatePerSecond float64
	StatusPerSecond float64
	TypicalDuration time.Duration
	// Progress: the status answer of a running job carries its progress
	// and the cloud's start time (MySQL's BackupInfo).
	Progress bool
}

// LimitsOf returns the limits for a product and op. Huawei publishes no
// per-action figure; 10/s is a conservative choice.
func LimitsOf(p Product, op Op) Limits {
	switch p {
	case MySQL:
		return Limits{CreatePerSecond: 5, StatusPerSecond: 10, TypicalDuration: 10 * time.Minute, Progress: op == Backup}
	case SQLServer:
		if op == Import {
			return Limits{CreatePerSecond: 20, StatusPerSecond: 20, TypicalDuration: 20 * time.Minute}
		}
		return Limits{CreatePerSecond: 20, StatusPerSecond: 20, TypicalDuration: 10 * time.Minute}
	case MongoDB:
		return Limits{CreatePerSecond: 20, StatusPerSecond: 20, TypicalDuration: 10 * time.Minute}
	case HuaweiRDS:
		return Limits{CreatePerSecond: 10, StatusPerSecond: 10, TypicalDuration: 10 * time.Minute}
	}
	return Limits{CreatePerSecond: 1, StatusPerSecond: 1, TypicalDuration: 10 * time.Minute}
}
