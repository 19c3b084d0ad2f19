package tcmongodb

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Request and response shapes of the mongodb 2019-07-25 actions this adapter
// sends (facts/database-apis.md §3, cos-and-discovery.md §B.3).

// CreateBackupDBInstanceRequest is CreateBackupDBInstance's input.
type CreateBackupDBInstanceRequest struct {
	InstanceId   string `json:"InstanceId"`
	BackupMethod int64  `json:"BackupMethod"` // 0 logical, 1 physical, 3 snapshot
	BackupRemark string `json:"BackupRemark,omitempty"`
	// BackupRetentionDays: 0 (omitted) the configured days, 1-7300, -1
	// long-term policy, -2 forever.
	BackupRetentionDays int64 `json:"BackupRetentionDays,omitempty"`
}

// CreateBackupDBInstanceResponse is CreateBackupDBInstance's output.
type CreateBackupDBInstanceResponse struct {
	AsyncRequestId AsyncID `json:"AsyncRequestId"`
	RequestId      string  `json:"RequestId"`
}

// AsyncID is an AsyncRequestId. The API reference types it as a string
// but its own example answers a number, so both decode.
type AsyncID string

// validAsyncID: 1-64 letters, digits, '_' or '-'.
func validAsyncID(s string) bool { return provider.IsWord(s, 64) }

// UnmarshalJSON accepts "4773" and 4773.
func (a *AsyncID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	switch {
	case bytes.Equal(b, []byte("null")):
		*a = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("AsyncRequestId: %w", err)
		}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("AsyncRequestId: want a string or a number, got %.40s", b)
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("AsyncRequestId: %s is not an integer", n)
		}
		s = n.String()
	}
	if s != "" && !validAsyncID(s) {
		return fmt.Errorf("AsyncRequestId %.40q: unexpected characters", s)
	}
	*a = AsyncID(s)
	return nil
}

// DescribeAsyncRequestInfoRequest is DescribeAsyncRequestInfo's input.
type DescribeAsyncRequestInfoRequest struct {
	AsyncRequestId string `json:"AsyncRequestId"`
}

// DescribeAsyncRequestInfoResponse is DescribeAsyncRequestInfo's output.
type DescribeAsyncRequestInfoResponse struct {
	Status    string `json:"Status"` // initial, running, success, failed, paused, undoed
	StartTime string `json:"StartTime"`
	EndTime   string `json:"EndTime"`
	RequestId string `json:"RequestId"`
}

// DescribeDBBackupsRequest is DescribeDBBackups' input; Offset is a row offset.
// BackupMethod selects what is listed: 0 logical (the default when unset),
// 1 physical, 2 all (SDK model mongodb/v20190725 DescribeDBBackupsRequest).
type DescribeDBBackupsRequest struct {
	InstanceId   string `json:"InstanceId"`
	BackupMethod int64  `json:"BackupMethod"`
	Limit        uint64 `json:"Limit"`
	Offset       uint64 `json:"Offset"`
}

// ListAllMethods is DescribeDBBackups' BackupMethod for every method: a
// lookup by remark must see physical and snapshot backups too.
const ListAllMethods = 2

// DescribeTransparentDataEncryptionStatusRequest is the TDE status query.
type DescribeTransparentDataEncryptionStatusRequest struct {
	InstanceId string `json:"InstanceId"`
}

// DescribeTransparentDataEncryptionStatusResponse says whether TDE is on.
type DescribeTransparentDataEncryptionStatusResponse struct {
	TransparentDataEncryptionStatus string `json:"TransparentDataEncryptionStatus"` // open, close
	RequestId                       string `json:"RequestId"`
}

// DescribeDBBackupsResponse is DescribeDBBackups' output.
type DescribeDBBackupsResponse struct {
	BackupList []BackupInfo `json:"BackupList"`
	TotalCount uint64       `json:"TotalCount"`
	RequestId  string       `json:"RequestId"`
}

// BackupInfo is one backup as DescribeDBBackups lists it.
type BackupInfo struct {
	InstanceId   string `json:"InstanceId"`
	BackupType   int64  `json:"BackupType"` // 0 automatic, 1 manual
	BackupName   string `json:"BackupName"`
	BackupDesc   string `json:"BackupDesc"` // the remark
	BackupSize   int64  `json:"BackupSize"`
	StartTime    string `json:"StartTime"`
	EndTime      string `json:"EndTime"`
	Status       int64  `json:"Status"` // 1 backing up, 2 succeeded
	BackupMethod int64  `json:"BackupMethod"`
	BackId       int64  `json:"BackId"`
}

// TagFilter is a key=value tag, in requests and responses alike.
type TagFilter struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// DescribeDBInstancesRequest is DescribeDBInstances' input; Offset is a row offset.
type DescribeDBInstancesRequest struct {
	InstanceIds  []string    `json:"InstanceIds,omitempty"`
	InstanceType int64       `json:"InstanceType"` // 1 formal
	ClusterType  int64       `json:"ClusterType"`  // -1 replica sets and sharded
	Tags         []TagFilter `json:"Tags,omitempty"`
	Limit        uint64      `json:"Limit"`
	Offset       uint64      `json:"Offset"`
}

// DescribeDBInstancesResponse is DescribeDBInstances' output.
type DescribeDBInstancesResponse struct {
	TotalCount      uint64           `json:"TotalCount"`
	InstanceDetails []InstanceDetail `json:"InstanceDetails"`
	RequestId       string           `json:"RequestId"`
}

// InstanceDetail is one instance as DescribeDBInstances lists it.
type InstanceDetail struct {
	InstanceId   string      `json:"InstanceId"`
	InstanceName string      `json:"InstanceName"`
	Region       string      `json:"Region"`
	Status       int64       `json:"Status"`       // 2 running
	InstanceType int64       `json:"InstanceType"` // 1 formal, 2 temporary, 3 read-only
	MachineType  string      `json:"MachineType"`  // HCD cloud disk; HIO10G, HIO, ... local disk
	Tags         []TagFilter `json:"Tags"`
}
