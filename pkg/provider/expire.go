package provider

import (
	"context"
	"time"
)

// CloudBackup is one backup as a cloud lists it, reduced to what retention
// decides on. Name is the name/alias/remark the cloud keeps for it
// (cdb ManualBackupName, sqlserver BackupName, mongodb BackupDesc, Huawei
// name); Manual is false for the cloud's automatic backups.
type CloudBackup struct {
	ID       string    `json:"id"`
	Instance string    `json:"instance"`
	Name     string    `json:"name"`
	Manual   bool      `json:"manual"`
	State    State     `json:"state"`
	Created  time.Time `json:"created"`
	// Size in bytes; 0 when the cloud does not say.
	Size int64 `json:"size,omitempty"`
	// Deleting is set while the cloud is removing it (Huawei DELETING).
	Deleting bool `json:"deleting,omitempty"`
	// Handle is what Delete needs besides ID (sqlserver: the file name).
	Handle string `json:"handle,omitempty"`
}

// Expirer is implemented by adapters whose cloud lets backups be listed and
// deleted. spec names the instance (Product, Region, InstanceID).
type Expirer interface {
	// Backups lists every backup the cloud holds for the instance,
	// automatic and manual, whoever made them.
	Backups(ctx context.Context, spec Spec) ([]CloudBackup, error)
	// Delete asks the cloud to delete the backups. Deletion may be
	// asynchronous: a deleted backup may stay listed (Deleting) for a while.
	// Deleting a backup already gone is not an error.
	Delete(ctx context.Context, spec Spec, backups []CloudBackup) error
}
