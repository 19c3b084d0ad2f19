package huaweirds

import (
	"context"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// Backups lists the instance's backups over the real API; Delete removes a
// manual one, which shows DELETING and is then gone, and a repeat on the
// gone backup is harmless.
func TestBackupsAndDelete(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	inst := in01
	ref, err := e.p.Start(ctx, spec(inst, "backupflow-jabc"))
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(jobDuration + time.Second)
	id, _ := parseRef(ref)
	find := func() (provider.CloudBackup, bool) {
		list, err := e.p.Backups(ctx, spec(inst, ""))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range list {
			if b.ID == id {
				return b, true
			}
		}
		return provider.CloudBackup{}, false
	}
	b, ok := find()
	if !ok || !b.Manual || b.Name != "backupflow-jabc" || b.State != provider.Succeeded || b.Created.IsZero() || b.Instance != inst {
		t.Fatalf("listed %+v, %v", b, ok)
	}
	auto := b
	auto.Manual = false
	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{auto}); err == nil {
		t.Error("Delete of a backup not marked manual was sent")
	}
	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{b}); err != nil {
		t.Fatal(err)
	}
	if d, ok := find(); !ok || !d.Deleting {
		t.Errorf("after delete: %+v, %v; want listed as DELETING", d, ok)
	}
	e.clk.Advance(10 * time.Second)
	if d, ok := find(); ok {
		t.Errorf("still listed after the deletion ended: %+v", d)
	}
	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{b}); err != nil {
		t.Errorf("second delete of a gone backup = %v; want nil", err)
	}
}
