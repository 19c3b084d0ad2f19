package tcmysql

// Request and response shapes of the cdb 2017-03-20 actions this adapter
// sends (facts/database-apis.md §1, cos-and-discovery.md §B.1). Field names
// are the wire names; optional fields are omitted when empty so the request
// carries only what the adapter means.

// BackupItem selects a database, or one table in it, for a logical backup.
type BackupItem struct {
	Db    string `json:"Db"`
	Table string `json:"Table,omitempty"`
}

// CreateBackupRequest is CreateBackup's input.
type CreateBackupRequest struct {
	InstanceId        string       `json:"InstanceId"`
	BackupMethod      string       `json:"BackupMethod"`
	BackupDBTableList []BackupItem `json:"BackupDBTableList,omitempty"`
	ManualBackupName  string       `json:"ManualBackupName,omitempty"`
}

// CreateBackupResponse is CreateBackup's output. BackupId is documented as
// uint64 here and int64 in DescribeBackups; ids fit either.
type CreateBackupResponse struct {
	BackupId  uint64 `json:"BackupId"`
	RequestId string `json:"RequestId"`
}

// DescribeBackupsRequest is DescribeBackups' input; Offset is a row offset.
type DescribeBackupsRequest struct {
	InstanceId string `json:"InstanceId"`
	Offset     int64  `json:"Offset"`
	Limit      int64  `json:"Limit"`
}

// DescribeBackupsResponse is DescribeBackups' output.
type DescribeBackupsResponse struct {
	TotalCount int64        `json:"TotalCount"`
	Items      []BackupInfo `json:"Items"`
	RequestId  string       `json:"RequestId"`
}

// BackupInfo is one backup as DescribeBackups lists it (the fields the
// adapter reads, and a few that help a human reading a dump).
type BackupInfo struct {
	Name             string `json:"Name"`
	Size             int64  `json:"Size"`
	Date             string `json:"Date"`
	Type             string `json:"Type"`
	BackupId         int64  `json:"BackupId"`
	Status           string `json:"Status"` // SUCCESS | FAILED | RUNNING
	FinishTime       string `json:"FinishTime"`
	StartTime        string `json:"StartTime"`
	Method           string `json:"Method"`
	Way              string `json:"Way"` // manual | automatic
	ManualBackupName string `json:"ManualBackupName"`
	InstanceId       string `json:"InstanceId"`
	Progress         *int64 `json:"Progress"`
}

// TagFilter is a key=value tag filter in DescribeDBInstances' request.
type TagFilter struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// DescribeDBInstancesRequest is DescribeDBInstances' input; Offset is a row offset.
type DescribeDBInstancesRequest struct {
	InstanceIds   []string    `json:"InstanceIds,omitempty"`
	Tags          []TagFilter `json:"Tags,omitempty"`
	InstanceTypes []uint64    `json:"InstanceTypes,omitempty"`
	Offset        uint64      `json:"Offset"`
	Limit         uint64      `json:"Limit"`
}

// DescribeDBInstancesResponse is DescribeDBInstances' output.
type DescribeDBInstancesResponse struct {
	TotalCount int64          `json:"TotalCount"`
	Items      []InstanceInfo `json:"Items"`
	RequestId  string         `json:"RequestId"`
}

// InstanceInfo is one instance as DescribeDBInstances lists it. Note the
// response spells tags TagKey/TagValue while the filter uses Key/Value.
type InstanceInfo struct {
	InstanceId   string    `json:"InstanceId"`
	InstanceName string    `json:"InstanceName"`
	Region       string    `json:"Region"`
	Status       int64     `json:"Status"`       // 0 creating, 1 running, 4 isolating, 5 isolated
	TaskStatus   int64     `json:"TaskStatus"`   // 0 none
	InstanceType int64     `json:"InstanceType"` // 1 master, 2 DR, 3 read-only
	DeviceType   string    `json:"DeviceType"`   // UNIVERSAL, EXCLUSIVE, BASIC, BASIC_V2, ...
	TagList      []TagInfo `json:"TagList"`
}

// TagInfo is a tag in a response.
type TagInfo struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// DeleteBackupRequest is DeleteBackup's input; only manual backups can be deleted.
type DeleteBackupRequest struct {
	InstanceId string `json:"InstanceId"`
	BackupId   int64  `json:"BackupId"`
}

// DeleteBackupResponse is DeleteBackup's output.
type DeleteBackupResponse struct {
	RequestId string `json:"RequestId"`
}
