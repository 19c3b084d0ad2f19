package tcmysql_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// The adapter lists every backup of an instance (backupflow's, automatic,
// hand-made) over the real API and deletes manual ones; deletion is
// asynchronous and a repeated delete of a gone backup is harmless.
func TestBackupsAndDelete(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	const inst = "cdb-c1nl9rpv"
	auto, err := e.emu.SeedBackup(inst, "", true, e.clock.Now().Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byHand, err := e.emu.SeedBackup(inst, "before-upgrade", false, e.clock.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := e.p.Start(ctx, spec(inst, "backupflow-jabc"))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(jobDuration + time.Second)
	list, err := e.p.Backups(ctx, spec(inst, ""))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]provider.CloudBackup{}
	for _, b := range list {
		got[b.ID] = b
	}
	id := strings.TrimPrefix(string(ref), "backup/")
	if len(got) != 3 {
		t.Fatalf("Backups listed %d; want 3: %+v", len(got), list)
	}
	if b := got[auto]; b.Manual || b.Name != "" || b.State != provider.Succeeded {
		t.Errorf("automatic backup listed as %+v", b)
	}
	if b := got[byHand]; !b.Manual || b.Name != "before-upgrade" {
		t.Errorf("hand-made backup listed as %+v", b)
	}
	mine := got[id]
	if !mine.Manual || mine.Name != "backupflow-jabc" || mine.Instance != inst || mine.State != provider.Succeeded ||
		mine.Created.IsZero() || mine.Size == 0 {
		t.Errorf("backupflow's backup listed as %+v", mine)
	}
	if d := mine.Created.Sub(e.clock.Now()); d > time.Second || d < -jobDuration-2*time.Second {
		t.Errorf("created %s, %s from now: the zone-less time was read in the wrong zone", mine.Created, d)
	}

	// The adapter refuses an automatic backup before any call; the cloud
	// refuses it too when asked.
	calls := e.calls.Load()
	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{got[auto]}); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("Delete(automatic) = %v; want invalid input", err)
	}
	if e.calls.Load() != calls {
		t.Error("Delete(automatic) called the cloud")
	}
	forced := got[auto]
	forced.Manual = true
	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{forced}); apierr.Code(err) != "CdbError.BackupError" {
		t.Errorf("cloud delete of an automatic backup = %v; want CdbError.BackupError", err)
	}

	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{mine}); err != nil {
		t.Fatal(err)
	}
	if !listed(t, e, inst, id) {
		t.Error("a deleted backup vanished at once; cdb deletes asynchronously")
	}
	e.clock.Advance(3 * time.Second)
	if listed(t, e, inst, id) {
		t.Error("a deleted backup is still listed after the deletion ended")
	}
	if err := e.p.Delete(ctx, spec(inst, ""), []provider.CloudBackup{mine}); err != nil {
		t.Errorf("second delete of a gone backup = %v; want nil", err)
	}
	for _, j := range e.emu.Jobs() {
		if j.ID != id && !j.Deleted.IsZero() {
			t.Errorf("backup %s (%q) was deleted too", j.ID, j.Name)
		}
	}
}

func listed(t *testing.T, e *env, inst, id string) bool {
	t.Helper()
	list, err := e.p.Backups(context.Background(), spec(inst, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list {
		if b.ID == id {
			return true
		}
	}
	return false
}

// DeleteBackup is held to 5 calls a second: the sixth in one second is
// throttled, a retryable kind, not a failure.
func TestDeleteRateLimited(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	const inst = "cdb-c1nl9rpv"
	var ids []provider.CloudBackup
	for i := range 6 {
		id, err := e.emu.SeedBackup(inst, fmt.Sprintf("old-%d", i), false, e.clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, provider.CloudBackup{ID: id, Instance: inst, Manual: true})
	}
	err := e.p.Delete(ctx, spec(inst, ""), ids)
	if apierr.KindOf(err) != apierr.RetryLater {
		t.Fatalf("six deletes in one second = %v (%v); want throttled", err, apierr.KindOf(err))
	}
}
