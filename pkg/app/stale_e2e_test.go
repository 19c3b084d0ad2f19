package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/function"
)

// TestEndToEnd_StoppedNightlyTimerRaisesStalenessAlarm (issue 19 item 4):
// one nightly run over the emulator's default fleet succeeds, then the
// nightly timer stops firing while the drain timer goes on. About
// BACKUPFLOW_STALE_AFTER later each target of the run is notified once —
// and only once over the following hours.
func TestEndToEnd_StoppedNightlyTimerRaisesStalenessAlarm(t *testing.T) {
	s := newStack(t, emulator.Options{}, map[string]string{"BACKUPFLOW_STALE_AFTER": "30h"})
	timer := `{"Type":"Timer","TriggerName":"nightly","Time":"` + s.clk.Now().Format(time.RFC3339) + `","Message":""}`
	var rep function.Report
	if err := json.Unmarshal(s.invoke(s.create, timer), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Jobs) == 0 {
		t.Fatal("the nightly run made no jobs")
	}
	s.runFor(2*time.Hour, func() bool { return strings.Contains(s.out.String(), "(job nightly-") })
	var instances []string
	for _, id := range rep.Jobs {
		st, o, err := s.app.Service.State(t.Context(), id)
		if err != nil || o == nil || o.Result != "succeeded" {
			t.Fatalf("job %s: %+v, %v; want succeeded", id, o, err)
		}
		instances = append(instances, st.Spec.InstanceID)
	}
	alarms := func(inst string) int { return strings.Count(s.out.String(), "No successful backup of "+inst+" for ") }
	drain := `{"Type":"Timer","TriggerName":"drain","Message":"drain"}`
	drainFor := func(d time.Duration) {
		for end := s.clk.Now().Add(d); s.clk.Now().Before(end); s.clk.Advance(10 * time.Minute) {
			s.invoke(s.create, drain)
		}
	}
	drainFor(28 * time.Hour)
	for _, inst := range instances {
		if n := alarms(inst); n != 0 {
			t.Fatalf("%s alarmed %d times within the limit:\n%s", inst, n, s.out.String())
		}
	}
	drainFor(12 * time.Hour)
	if i := strings.Index(s.out.String(), "No successful backup"); i >= 0 {
		t.Logf("first alarm:\n%s", s.out.String()[i:min(len(s.out.String()), i+600)])
	}
	for _, inst := range instances {
		if n := alarms(inst); n != 1 {
			t.Errorf("%s alarmed %d times; want once", inst, n)
		}
	}
}
