package interop_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLambdaNarrowedRun (issue 13 item 3): a schedule whose Input names
// targets narrows the nightly run to them. Its answer reports as skipped
// only the selected instances discovery found ineligible, and such an
// instance stays skipped: the emulator's fleet holds ineligible instances
// under the nightly tag (isolated, creating, read-only …) that the
// selection leaves out.
func TestLambdaNarrowedRun(t *testing.T) {
	e := startEmulator(t)
	r := startRIE(t, "create-backup", lambdaEnv(e, "narrow"))
	q := sqsClient(e)
	check(t, rieClient, "create-backup a run narrowed to one eligible and one isolated instance → skips the isolated one only, backs up the other", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		_ = purge(ctx, q, "backupflow-work")
		// cdb-iso00001 is isolated: discovery finds it under the nightly tag
		// and cannot back it up.
		// No scheduledTime: the input is the selection alone, as before
		// template.yaml passed the scheduled time (the run's slot is now).
		payload := `{"targets":["cdb-c1nl9rpv","cdb-iso00001"]}`
		inv, err := r.invoke(ctx, []byte(payload))
		if err != nil || inv.err != nil {
			c.Errorf("invoke: %v %s", err, inv)
			return
		}
		var rep struct {
			Jobs    []string `json:"jobs"`
			Skipped int      `json:"skipped"`
		}
		if err := json.Unmarshal(inv.body, &rep); err != nil {
			c.Errorf("the answer is not the run's report: %v: %s", err, inv.body)
			return
		}
		if rep.Skipped != 1 {
			c.Errorf("the narrowed run reports %d skipped; want 1 (the selected cdb-iso00001): %s", rep.Skipped, inv.body)
		}
		work, err := take(ctx, q, "backupflow-work")
		if err != nil {
			c.Errorf("sqs: %v", err)
		}
		var targets []string
		for _, m := range work {
			for _, id := range []string{"cdb-c1nl9rpv", "cdb-iso00001"} {
				if strings.Contains(m.Body, `"`+id+`"`) {
					targets = append(targets, id)
				}
			}
		}
		if len(work) != 1 || len(targets) != 1 || targets[0] != "cdb-c1nl9rpv" {
			c.Errorf("the narrowed run queued %d creates for %v; want one, for cdb-c1nl9rpv (the isolated instance stays skipped)", len(work), targets)
		}
	})
}
