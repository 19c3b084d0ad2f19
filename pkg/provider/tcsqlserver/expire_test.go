package tcsqlserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// removeCalls records the BackupNames of every RemoveBackups request that
// reaches the emulator.
func (e *env) removeCalls() func() [][]string {
	var mu sync.Mutex
	var calls [][]string
	e.hook = func(_ http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.Header.Get("X-TC-Action") == "RemoveBackups" {
			var req struct{ BackupNames []string }
			_ = json.Unmarshal(body, &req)
			mu.Lock()
			calls = append(calls, req.BackupNames)
			mu.Unlock()
		}
		return false
	}
	return func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
}

func byID(t *testing.T, e *env, inst string) map[string]provider.CloudBackup {
	t.Helper()
	list, err := e.p.Backups(context.Background(), backup(inst, ""))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]provider.CloudBackup{}
	for _, b := range list {
		if _, dup := out[b.ID]; dup {
			t.Fatalf("Backups listed %s twice: %+v", b.ID, list)
		}
		out[b.ID] = b
	}
	return out
}

// The adapter lists every backup of an instance (backupflow's, the cloud's
// scheduled one, one made by hand) over the real API, older than Find's
// eight days too, and removes manual ones with RemoveBackups; the removal
// takes effect and a repeated delete of a gone backup is harmless.
func TestBackupsAndDelete(t *testing.T) {
	e := newEnv(t)
	calls := e.removeCalls()
	ctx := context.Background()
	const inst = "mssql-i1z41iwd"
	if _, err := e.emu.SeedBackup(inst, "", true, e.clock.Now().Add(-30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.SeedBackup(inst, "before-upgrade", false, e.clock.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Start(ctx, backup(inst, "backupflow-jabc")); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(jobDuration + time.Second)
	got := map[string]provider.CloudBackup{}
	for _, b := range byID(t, e, inst) {
		got[b.Name] = b
	}
	if len(got) != 3 {
		t.Fatalf("Backups listed %d; want 3 (the 30-day-old scheduled one too): %+v", len(got), got)
	}
	if b := got[""]; b.Manual || b.State != provider.Succeeded || b.ID == "" {
		t.Errorf("scheduled backup listed as %+v", b)
	}
	if b := got["before-upgrade"]; !b.Manual || b.State != provider.Succeeded {
		t.Errorf("hand-made backup listed as %+v", b)
	}
	mine := got["backupflow-jabc"]
	if !mine.Manual || mine.Instance != inst || mine.State != provider.Succeeded || mine.Size == 0 || mine.Handle == "" {
		t.Errorf("backupflow's backup listed as %+v", mine)
	}
	if d := mine.Created.Sub(e.clock.Now()); d > time.Second || d < -jobDuration-2*time.Second {
		t.Errorf("created %s, %s from now: the zone-less time was read in the wrong zone", mine.Created, d)
	}
	// The ID is the backup's Id, what the ledger records for a backup Find adopted.
	ref, found, err := e.p.Find(ctx, backup(inst, "backupflow-jabc"))
	if err != nil || !found || string(ref) != "backup/"+mine.ID {
		t.Errorf("Find = %q, %v, %v; want backup/%s", ref, found, err, mine.ID)
	}

	// The scheduled backup is refused before any call, and when the
	// caller claims it is manual the listing refuses it still.
	if err := e.p.Delete(ctx, backup(inst, ""), []provider.CloudBackup{got[""]}); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("Delete(scheduled) = %v; want invalid input", err)
	}
	forced := got[""]
	forced.Manual = true
	if err := e.p.Delete(ctx, backup(inst, ""), []provider.CloudBackup{forced}); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("Delete(scheduled, claimed manual) = %v; want invalid input", err)
	}
	// A plan naming a backup by an ID the cloud now lists under another
	// name removes nothing.
	renamed := mine
	renamed.Name = "backupflow-jzzz"
	if err := e.p.Delete(ctx, backup(inst, ""), []provider.CloudBackup{renamed}); !errors.Is(err, apierr.ErrInvalidInput) {
		t.Errorf("Delete(wrong name) = %v; want invalid input", err)
	}
	if c := calls(); len(c) != 0 {
		t.Fatalf("refused deletes sent RemoveBackups %v", c)
	}

	if err := e.p.Delete(ctx, backup(inst, ""), []provider.CloudBackup{mine}); err != nil {
		t.Fatal(err)
	}
	if _, ok := byID(t, e, inst)[mine.ID]; ok {
		t.Error("a removed backup is still listed")
	}
	if err := e.p.Delete(ctx, backup(inst, ""), []provider.CloudBackup{mine}); err != nil {
		t.Errorf("second delete of a gone backup = %v; want nil", err)
	}
	if c := calls(); len(c) != 1 || !slices.Equal(c[0], []string{mine.Handle}) {
		t.Errorf("RemoveBackups calls %v; want one, naming %s", c, mine.Handle)
	}
	for _, j := range e.emu.Jobs() {
		if deleted := !j.Deleted.IsZero(); deleted != (j.Name == "backupflow-jabc") {
			t.Errorf("backup %s (%q): deleted %v", j.ID, j.Name, deleted)
		}
	}
}

// RemoveBackups takes at most 10 file names: twelve backups deleted in one
// call go out as 10 then 2, and a backup of twelve single-database files
// (listed as one backup named by its name) as 10 then 2 as well.
func TestDeleteBatches(t *testing.T) {
	t.Run("twelve backups", func(t *testing.T) {
		e := newEnv(t)
		calls := e.removeCalls()
		const inst = "mssql-njj2mtpl"
		for i := range 12 {
			if _, err := e.emu.SeedBackup(inst, fmt.Sprintf("old-%02d", i), false, e.clock.Now().Add(-time.Duration(i+1)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		var all []provider.CloudBackup
		for _, b := range byID(t, e, inst) {
			all = append(all, b)
		}
		if len(all) != 12 {
			t.Fatalf("listed %d backups; want 12", len(all))
		}
		if err := e.p.Delete(context.Background(), backup(inst, ""), all); err != nil {
			t.Fatal(err)
		}
		c := calls()
		if len(c) != 2 || len(c[0]) != 10 || len(c[1]) != 2 {
			t.Errorf("RemoveBackups batches %v; want 10 then 2 names", c)
		}
		if left := byID(t, e, inst); len(left) != 0 {
			t.Errorf("still listed after the delete: %v", left)
		}
	})
	t.Run("twelve single-database files", func(t *testing.T) {
		e := newEnv(t)
		calls := e.removeCalls()
		const inst = "mssql-shards12"
		ctx := context.Background()
		if _, err := e.p.Start(ctx, backup(inst, "backupflow-jshards")); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(jobDuration + time.Second)
		list := byID(t, e, inst)
		b, ok := list["backupflow-jshards"]
		if len(list) != 1 || !ok || !b.Manual || b.State != provider.Succeeded {
			t.Fatalf("listed %+v; want one succeeded manual backup with ID backupflow-jshards", list)
		}
		// The ledger's BackupID for this job is what Status reports; the
		// listed ID must be the same for retention to match them.
		found, _, err := e.p.Find(ctx, backup(inst, "backupflow-jshards"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.p.Status(ctx, backup(inst, "backupflow-jshards"), found)
		if err != nil || st.BackupID != b.ID {
			t.Errorf("Status(%s) = %+v, %v; want BackupID %s", found, st, err, b.ID)
		}
		if err := e.p.Delete(ctx, backup(inst, ""), []provider.CloudBackup{b}); err != nil {
			t.Fatal(err)
		}
		c := calls()
		if len(c) != 2 || len(c[0]) != 10 || len(c[1]) != 2 {
			t.Errorf("RemoveBackups batches %v; want 10 then 2 names", c)
		}
		if left := byID(t, e, inst); len(left) != 0 {
			t.Errorf("still listed after the delete: %v", left)
		}
	})
}

// A step delivered twice may remove the same files at once: when the other
// removed them between this listing and this call, the cloud refuses the
// names, and the delete counts as done because the listing no longer shows
// them. A refusal of files still listed is an error.
func TestDeleteRacedByADuplicate(t *testing.T) {
	e := newEnv(t)
	const inst = "mssql-i1z41iwd"
	if _, err := e.emu.SeedBackup(inst, "old", false, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	var b provider.CloudBackup
	for _, x := range byID(t, e, inst) {
		b = x
	}
	raced := false
	e.hook = func(_ http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.Header.Get("X-TC-Action") == "RemoveBackups" && !raced {
			raced = true
			dup := r.Clone(r.Context())
			dup.Body = io.NopCloser(bytes.NewReader(body))
			rec := httptest.NewRecorder()
			e.emu.ServeHTTP(rec, dup) // the duplicate's identical call lands first
		}
		return false
	}
	if err := e.p.Delete(context.Background(), backup(inst, ""), []provider.CloudBackup{b}); err != nil {
		t.Fatalf("Delete raced by a duplicate = %v; want nil", err)
	}
	if !raced {
		t.Fatal("the race never happened")
	}
	if n := e.emu.Calls("sqlserver", "RemoveBackups"); n != 2 {
		t.Errorf("%d RemoveBackups calls reached the cloud; want 2 (the duplicate's and this one)", n)
	}

	if _, err := e.emu.SeedBackup(inst, "old-2", false, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.hook = nil
	var b2 provider.CloudBackup
	for _, x := range byID(t, e, inst) {
		b2 = x
	}
	e.emu.InjectError("sqlserver", "RemoveBackups", "InvalidParameter.InputIllegal", "injected refusal")
	if err := e.p.Delete(context.Background(), backup(inst, ""), []provider.CloudBackup{b2}); apierr.Code(err) != "InvalidParameter.InputIllegal" {
		t.Errorf("refused delete of a listed backup = %v; want InvalidParameter.InputIllegal", err)
	}
	e.emu.InjectError("sqlserver", "RemoveBackups", "InternalError.CosError", "injected server fault")
	if err := e.p.Delete(context.Background(), backup(inst, ""), []provider.CloudBackup{b2}); apierr.KindOf(err) == apierr.Permanent || err == nil {
		t.Errorf("server fault = %v (%v); want a retryable kind", err, apierr.KindOf(err))
	}
	if err := e.p.Delete(context.Background(), backup(inst, ""), []provider.CloudBackup{b2}); err != nil {
		t.Errorf("delete after the fault = %v", err)
	}
	if len(byID(t, e, inst)) != 0 {
		t.Error("the backup is still listed after the retried delete")
	}
}

// RemoveBackups' documented refusals and rate limit, as the emulator
// answers them to the real client.
func TestRemoveBackupsRules(t *testing.T) {
	e := newEnvLimits(t, true)
	ctx := context.Background()
	call := func(req any) error {
		return e.c.Call(ctx, tencent.Action{Service: "sqlserver", Version: "2018-03-28", Name: "RemoveBackups", Region: "ap-guangzhou"}, req, nil)
	}
	const inst = "mssql-njj2mtpl"
	if _, err := e.emu.SeedBackup(inst, "", true, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	var autoFile string
	for _, b := range byID(t, e, inst) {
		autoFile = b.Handle
	}
	if _, err := e.p.Start(ctx, backup(inst, "backupflow-jrun")); err != nil {
		t.Fatal(err)
	}
	var running string
	for _, b := range byID(t, e, inst) {
		if b.Name == "backupflow-jrun" {
			running = b.Handle
		}
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("f%d.bak", i)
	}
	for _, tc := range []struct {
		name string
		req  any
		code string
	}{
		{"more than 10 names", map[string]any{"InstanceId": inst, "BackupNames": eleven}, "InvalidParameter.InputIllegal"},
		{"neither names nor a window", map[string]any{"InstanceId": inst}, "InvalidParameter.InputIllegal"},
		{"unknown file", map[string]any{"InstanceId": inst, "BackupNames": []string{"nope.bak"}}, "InvalidParameter.InputIllegal"},
		{"scheduled backup", map[string]any{"InstanceId": inst, "BackupNames": []string{autoFile}}, "InvalidParameter.InputIllegal"},
		{"backup being made", map[string]any{"InstanceId": inst, "BackupNames": []string{running}}, "InvalidParameter.InputIllegal"},
		{"unknown instance", map[string]any{"InstanceId": "mssql-nope0000", "BackupNames": []string{"x.bak"}}, "ResourceNotFound.InstanceNotFound"},
		{"isolated instance", map[string]any{"InstanceId": "mssql-is0lated", "BackupNames": []string{"x.bak"}}, "ResourceUnavailable.InstanceStatusInvalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := call(tc.req); apierr.Code(err) != tc.code {
				t.Errorf("RemoveBackups = %v; want %s", err, tc.code)
			}
		})
	}
	if n := len(byID(t, e, inst)); n != 2 {
		t.Errorf("%d backups listed after the refused calls; want both still there", n)
	}
	// The window form removes manual backups only, and only finished ones.
	e.clock.Advance(jobDuration + time.Second)
	win := map[string]any{"InstanceId": inst, "StartTime": e.clock.Now().Add(-48 * time.Hour).In(time.FixedZone("", 8*3600)).Format("2006-01-02 15:04:05"),
		"EndTime": e.clock.Now().In(time.FixedZone("", 8*3600)).Format("2006-01-02 15:04:05")}
	if err := call(win); err != nil {
		t.Fatal(err)
	}
	if left := byID(t, e, inst); len(left) != 1 {
		t.Errorf("after the window removal: %v; want only the scheduled backup", left)
	} else {
		for _, b := range left {
			if b.Manual {
				t.Errorf("the window removal left %+v", b)
			}
		}
	}
	// 20 a second (CreateBackup's published figure; RemoveBackups has none).
	var throttled error
	for range 21 {
		if err := call(map[string]any{"InstanceId": inst, "BackupNames": []string{"nope.bak"}}); apierr.Code(err) == "RequestLimitExceeded" {
			throttled = err
			break
		}
	}
	if apierr.KindOf(throttled) != apierr.RetryLater {
		t.Errorf("21 calls in a second: throttled = %v; want RequestLimitExceeded, retryable", throttled)
	}
}
