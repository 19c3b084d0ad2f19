package tcsqlserver

// Request and response shapes of the sqlserver 2018-03-28 actions this
// adapter sends (facts/database-apis.md §2, cos-and-discovery.md §B.2).
// Offset is a PAGE NUMBER in every list action of this product.

// CreateBackupRequest is CreateBackup's input.
type CreateBackupRequest struct {
	Strategy        int64    `json:"Strategy"` // 0 instance, 1 multi-database
	DBNames         []string `json:"DBNames,omitempty"`
	InstanceId      string   `json:"InstanceId"`
	BackupName      string   `json:"BackupName,omitempty"`
	StorageStrategy int64    `json:"StorageStrategy"` // 0 follow the retention policy
}

// CreateBackupResponse is CreateBackup's output.
type CreateBackupResponse struct {
	FlowId    int64  `json:"FlowId"`
	RequestId string `json:"RequestId"`
}

// DescribeFlowStatusRequest is DescribeFlowStatus' input.
type DescribeFlowStatusRequest struct {
	FlowId int64 `json:"FlowId"`
}

// DescribeFlowStatusResponse is DescribeFlowStatus' output.
type DescribeFlowStatusResponse struct {
	Status    int64  `json:"Status"` // 0 succeeded, 1 failed, 2 running
	RequestId string `json:"RequestId"`
}

// DescribeBackupsRequest is DescribeBackups' input. StartTime, EndTime and
// InstanceId are required; times are "yyyy-MM-dd HH:mm:ss".
type DescribeBackupsRequest struct {
	StartTime  string `json:"StartTime"`
	EndTime    string `json:"EndTime"`
	InstanceId string `json:"InstanceId"`
	Limit      int64  `json:"Limit"`
	Offset     int64  `json:"Offset"` // page number
	BackupName string `json:"BackupName,omitempty"`
	BackupWay  *int64 `json:"BackupWay,omitempty"` // 1 manual
	BackupId   uint64 `json:"BackupId,omitempty"`
}

// DescribeBackupsResponse is DescribeBackups' output.
type DescribeBackupsResponse struct {
	TotalCount int64    `json:"TotalCount"`
	Backups    []Backup `json:"Backups"`
	RequestId  string   `json:"RequestId"`
}

// Backup is one backup as DescribeBackups lists it.
type Backup struct {
	FileName   string   `json:"FileName"`
	Size       int64    `json:"Size"`
	StartTime  string   `json:"StartTime"`
	EndTime    string   `json:"EndTime"`
	Id         uint64   `json:"Id"`
	Status     int64    `json:"Status"` // 0 creating, 1 success, 2 failed
	DBs        []string `json:"DBs"`
	Strategy   int64    `json:"Strategy"`
	BackupWay  int64    `json:"BackupWay"` // 0 scheduled, 1 manual, 2 periodic
	BackupName string   `json:"BackupName"`
	// GroupId groups the single-database files of one backup.
	GroupId string `json:"GroupId"`
}

// RemoveBackupsRequest is RemoveBackups' input: manual backup files by
// FileName, at most 10. (The StartTime/EndTime form, every manual backup
// in a window, is never sent: it would remove what backupflow did not make.)
type RemoveBackupsRequest struct {
	InstanceId  string   `json:"InstanceId"`
	BackupNames []string `json:"BackupNames"`
}

// RemoveBackupsResponse is RemoveBackups' output.
type RemoveBackupsResponse struct {
	RequestId string `json:"RequestId"`
}

// CreateBackupMigrationRequest is CreateBackupMigration's input.
type CreateBackupMigrationRequest struct {
	InstanceId    string   `json:"InstanceId"`
	RecoveryType  string   `json:"RecoveryType"` // FULL
	UploadType    string   `json:"UploadType"`   // COS_URL
	MigrationName string   `json:"MigrationName"`
	BackupFiles   []string `json:"BackupFiles"`
}

// CreateBackupMigrationResponse is CreateBackupMigration's output.
type CreateBackupMigrationResponse struct {
	BackupMigrationId string `json:"BackupMigrationId"`
	RequestId         string `json:"RequestId"`
}

// ModifyBackupMigrationRequest is ModifyBackupMigration's input; the adapter
// only refreshes BackupFiles (a presigned URL expires).
type ModifyBackupMigrationRequest struct {
	InstanceId        string   `json:"InstanceId"`
	BackupMigrationId string   `json:"BackupMigrationId"`
	BackupFiles       []string `json:"BackupFiles,omitempty"`
}

// ModifyBackupMigrationResponse is ModifyBackupMigration's output.
type ModifyBackupMigrationResponse struct {
	BackupMigrationId string `json:"BackupMigrationId"`
	RequestId         string `json:"RequestId"`
}

// StartBackupMigrationRequest is StartBackupMigration's input.
type StartBackupMigrationRequest struct {
	InstanceId        string `json:"InstanceId"`
	BackupMigrationId string `json:"BackupMigrationId"`
}

// StartBackupMigrationResponse is StartBackupMigration's output.
type StartBackupMigrationResponse struct {
	FlowId    int64  `json:"FlowId"`
	RequestId string `json:"RequestId"`
}

// DescribeBackupMigrationRequest is DescribeBackupMigration's input.
type DescribeBackupMigrationRequest struct {
	InstanceId        string `json:"InstanceId"`
	BackupMigrationId string `json:"BackupMigrationId,omitempty"`
	MigrationName     string `json:"MigrationName,omitempty"`
	Limit             int64  `json:"Limit"`
	Offset            int64  `json:"Offset"` // page number
}

// DescribeBackupMigrationResponse is DescribeBackupMigration's output.
type DescribeBackupMigrationResponse struct {
	TotalCount         int64       `json:"TotalCount"`
	BackupMigrationSet []Migration `json:"BackupMigrationSet"`
	RequestId          string      `json:"RequestId"`
}

// Migration is one backup import task. BackupFiles is left out on purpose:
// it holds the presigned URL, which must not travel further.
type Migration struct {
	MigrationId   string           `json:"MigrationId"`
	MigrationName string           `json:"MigrationName"`
	InstanceId    string           `json:"InstanceId"`
	RecoveryType  string           `json:"RecoveryType"`
	UploadType    string           `json:"UploadType"`
	Status        int64            `json:"Status"` // 2 created, 7 running, 9 succeeded, 10 failed
	CreateTime    string           `json:"CreateTime"`
	StartTime     string           `json:"StartTime"`
	EndTime       string           `json:"EndTime"`
	Message       string           `json:"Message"`
	Detail        *MigrationDetail `json:"Detail"`
}

// MigrationDetail is a migration's step progress.
type MigrationDetail struct {
	StepAll  int64 `json:"StepAll"`
	StepNow  int64 `json:"StepNow"`
	Progress int64 `json:"Progress"`
}

// DescribeDBInstancesRequest is DescribeDBInstances' input; TagKeys is the
// only tag filter this product has (no value filter).
type DescribeDBInstancesRequest struct {
	InstanceIdSet []string `json:"InstanceIdSet,omitempty"`
	TagKeys       []string `json:"TagKeys,omitempty"`
	Limit         int64    `json:"Limit"`
	Offset        int64    `json:"Offset"` // page number
}

// DescribeDBInstancesResponse is DescribeDBInstances' output.
type DescribeDBInstancesResponse struct {
	TotalCount  int64        `json:"TotalCount"`
	DBInstances []DBInstance `json:"DBInstances"`
	RequestId   string       `json:"RequestId"`
}

// DBInstance is one instance as DescribeDBInstances lists it.
type DBInstance struct {
	InstanceId   string        `json:"InstanceId"`
	Name         string        `json:"Name"`
	Status       int64         `json:"Status"` // 2 running
	Region       string        `json:"Region"`
	InstanceType string        `json:"InstanceType"` // HA, RO, cvmRO, ...
	ROFlag       string        `json:"ROFlag"`       // RO, MASTER, empty
	ResourceTags []ResourceTag `json:"ResourceTags"`
}

// ResourceTag is a tag on an instance.
type ResourceTag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}
