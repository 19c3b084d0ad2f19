package flow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/job"
	"github.com/backupflow/backupflow/pkg/provider"
)

// TestPollChecksAreBookedUnderTheStatusLimit: checks of one product that
// come due in the same second are spread over the next seconds at nine
// tenths of the product's status limit (MySQL DescribeBackups 10/s: 9 a
// second), whichever path sends them; another product's checks have their
// own seconds. Before, all 25 MySQL checks were sent for the same second
// and 15 of them were throttled.
func TestPollChecksAreBookedUnderTheStatusLimit(t *testing.T) {
	h := newHarness(t, Config{})
	send := func(p provider.Product, id string) {
		m := job.Message{JobID: id, Step: job.StepPoll, Seq: 1, Ref: "backup/1",
			Spec: provider.Spec{Op: provider.Backup, Product: p, InstanceID: id, Name: job.Name(id)}}
		if err := h.svc.send(context.Background(), m, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 25 {
		send(provider.MySQL, fmt.Sprintf("cdb-m%07d", i))
	}
	send(provider.SQLServer, "mssql-m0000001")
	per := map[time.Duration]int{}
	for _, d := range h.poll.delay[:25] {
		per[d]++
	}
	want := map[time.Duration]int{time.Minute: 9, time.Minute + time.Second: 9, time.Minute + 2*time.Second: 7}
	if fmt.Sprint(per) != fmt.Sprint(want) {
		t.Errorf("MySQL checks per delay %v; want %v", per, want)
	}
	if got := h.poll.delay[25]; got != time.Minute {
		t.Errorf("the SQL Server check was sent with %s; want 1m0s (its own limit has room)", got)
	}
	// Seconds that have passed are forgotten: an hour on, the same second
	// of the minute is free again.
	h.clk.Advance(time.Hour)
	send(provider.MySQL, "cdb-m9999999")
	if got := h.poll.delay[26]; got != time.Minute {
		t.Errorf("an hour later a MySQL check was sent with %s; want 1m0s", got)
	}
}
