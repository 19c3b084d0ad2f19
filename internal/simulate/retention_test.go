package simulate

import (
	"context"
	"testing"

	"github.com/backupflow/backupflow/pkg/retention"
)

// Thirty nights of the deployed functions over one emulator, with 10 %
// faults and 10 % duplicate deliveries, a fleet whose instances also hold
// the cloud's automatic backups, backups made by hand and look-alike
// names: after every night each instance keeps exactly its newest
// keep-last backupflow backups, nothing deleted was not backupflow's, no
// backup was asked to be deleted after the cloud accepted its delete, and
// each night's one notice counts what was deleted. A share too small for
// the fleet's expiries shows the kept-set check fails when it should.
func TestRetention_ThirtyNights(t *testing.T) {
	instances := 12
	if testing.Short() {
		instances = 6
	}
	for _, tc := range []struct {
		name    string
		share   float64
		nights  int
		wantOff bool
	}{
		{"share 0.5", 0.5, 30, false},
		{"share too small for one expiry each", 0.01, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const keep = 7
			rep, err := Retention(context.Background(), RetentionOptions{Instances: instances, Nights: tc.nights, Faults: 0.1, Duplicates: 0.1,
				Seed: 3, Rule: retention.Rule{KeepLast: keep}, Share: tc.share})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Nights) != tc.nights || rep.Foreign < 3*instances {
				t.Fatalf("%d nights, %d foreign backups; want %d and at least %d", len(rep.Nights), rep.Foreign, tc.nights, 3*instances)
			}
			off := 0
			for _, n := range rep.Nights {
				off += n.Off
				if n.Notices != 1 || n.Expired != n.Deleted {
					t.Errorf("night %d: %d notices saying %d expired, %d deleted; want one notice counting them", n.Night, n.Notices, n.Expired, n.Deleted)
				}
				if n.Made == 0 {
					t.Errorf("night %d made no backup", n.Night)
				}
			}
			if rep.NotOurs != 0 || rep.Twice != 0 {
				t.Errorf("%d deleted that backupflow did not make, %d deleted twice; want 0", rep.NotOurs, rep.Twice)
			}
			if tc.wantOff {
				if off == 0 {
					t.Errorf("no instance off the rule with share %.2f, which allows far fewer deletions than expire", tc.share)
				}
				return
			}
			if off != 0 {
				t.Errorf("%d instance-nights did not keep exactly the newest %d", off, keep)
			}
			deleted := 0
			for _, n := range rep.Nights {
				deleted += n.Deleted
			}
			if last := rep.Nights[len(rep.Nights)-1]; last.Kept != keep*instances || deleted == 0 {
				t.Errorf("after %d nights %d kept, %d deleted; want %d kept", tc.nights, last.Kept, deleted, keep*instances)
			}
		})
	}
}
