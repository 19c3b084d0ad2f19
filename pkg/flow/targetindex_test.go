package flow

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/retention"
)

// The nightly fan-out reads MongoDB retention days from an index of the
// targets; it must answer as the scan of Targets that one-off backups use,
// repeated instance ids included (the first set value wins in both).
func TestTargetIndexAnswersAsTheScan(t *testing.T) {
	rules := []*retention.Rule{nil, {KeepDays: 9}, {KeepLast: 3}, {KeepDays: 40, KeepLast: 2}, {KeepDays: 9000}, {}}
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cfg := Config{Retention: *rules[1+r.IntN(len(rules)-1)]}
		for i := 0; i < 60; i++ {
			cfg.Targets = append(cfg.Targets, Target{
				InstanceID:    fmt.Sprintf("cmgo-%d", r.IntN(25)),
				Product:       provider.MongoDB,
				RetentionDays: []int{0, 0, 3, 30}[r.IntN(4)],
				Retention:     rules[r.IntN(len(rules))],
			})
		}
		x := cfg.indexTargets()
		for i := 0; i < 26; i++ {
			inst := fmt.Sprintf("cmgo-%d", i)
			for _, own := range rules {
				want := cfg.mongoRetentionDays(provider.MongoDB, inst, 0, own)
				if got := x.mongoRetentionDays(inst, own); got != want {
					t.Fatalf("seed %d, %s, own %+v: index says %d, the scan %d", seed, inst, own, got, want)
				}
			}
		}
	}
}
