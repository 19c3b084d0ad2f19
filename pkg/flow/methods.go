package flow

import (
	"cmp"
	"context"
	"slices"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// fillMethods gives the targets that name no method their instance's
// default one, asked of each provider that can tell (provider.
// MethodResolver) in batches, so their creates skip the lookup. A batch
// that fails leaves its targets without a method: each create then looks
// its own up, as it did before.
func (s *Service) fillMethods(ctx context.Context, targets []Target) {
	type group struct {
		product provider.Product
		region  string
	}
	need := map[group][]int{}
	for i, t := range targets {
		if t.Method == "" {
			g := group{t.Product, t.Region}
			need[g] = append(need[g], i)
		}
	}
	groups := make([]group, 0, len(need))
	for g := range need {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.product, b.product), cmp.Compare(a.region, b.region))
	})
	for _, g := range groups {
		pr, err := s.d.Providers(g.product)
		if err != nil {
			continue
		}
		mr, ok := pr.(provider.MethodResolver)
		if !ok {
			continue
		}
		for idx := range slices.Chunk(need[g], provider.MethodBatch) {
			ids := make([]string, len(idx))
			for k, i := range idx {
				ids[k] = targets[i].InstanceID
			}
			var methods map[string]string
			for try := 0; try < 3; try++ {
				if methods, err = mr.DefaultMethods(ctx, g.region, ids); err == nil || apierr.KindOf(err) == apierr.Permanent {
					break
				}
			}
			if err != nil {
				s.log.Warn("default methods not read; those creates look theirs up", "product", string(g.product), "instances", len(ids), "err", err)
				continue
			}
			for _, i := range idx {
				if m := methods[targets[i].InstanceID]; m != "" {
					targets[i].Method = m
				}
			}
		}
	}
}
