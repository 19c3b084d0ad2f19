package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

// DefaultMix is the product mix of a typical mixed fleet.
var DefaultMix = map[provider.Product]float64{
	provider.MySQL: 0.4, provider.SQLServer: 0.3, provider.MongoDB: 0.2, provider.HuaweiRDS: 0.1,
}

// ParseMix reads "mysql=0.4,sqlserver=0.3,...". Shares need not sum to 1;
// they are normalised.
func ParseMix(s string) (map[provider.Product]float64, error) {
	mix := map[provider.Product]float64{}
	total := 0.0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		p := provider.Product(strings.TrimSpace(k))
		if !ok || !slices.Contains(provider.Products, p) {
			return nil, fmt.Errorf("mix %q: want product=share with product one of mysql, sqlserver, mongodb, huawei-rds", part)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("mix %q: share must be a non-negative number", part)
		}
		mix[p] += f
		total += f
	}
	if total <= 0 {
		return nil, fmt.Errorf("mix %q: no positive share", s)
	}
	for p := range mix {
		mix[p] /= total
	}
	return mix, nil
}

// counts splits n over the mix by largest remainder, so they sum to n.
func counts(n int, mix map[provider.Product]float64) map[provider.Product]int {
	out := map[provider.Product]int{}
	type rem struct {
		p provider.Product
		r float64
	}
	var rems []rem
	left := n
	for _, p := range provider.Products {
		exact := float64(n) * mix[p]
		out[p] = int(math.Floor(exact))
		left -= out[p]
		rems = append(rems, rem{p, exact - math.Floor(exact)})
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return 0
	})
	for i := 0; left > 0; i = (i + 1) % len(rems) {
		if mix[rems[i].p] > 0 {
			out[rems[i].p]++
			left--
		}
	}
	return out
}

// Duration spread: log-normal with a 12-minute median, clamped to 2–60 min,
// which puts most jobs between 5 and 30 minutes with a long tail, as nightly
// backups of mixed-size databases are.
const (
	durMedian = 12 * time.Minute
	durSigma  = 0.7
	durMin    = 2 * time.Minute
	durMax    = 60 * time.Minute
	jitter    = 0.10 // each night: base ± 10 %
)

// fleet is the generated set of instances with each one's base duration.
type fleet struct {
	instances []fixture.Instance
	base      []time.Duration
	perProd   map[provider.Product]int
}

func newFleet(n int, mix map[provider.Product]float64, seed uint64) *fleet {
	rng := rand.New(rand.NewPCG(seed, 0xb4c4f10e))
	f := &fleet{perProd: counts(n, mix)}
	for _, p := range provider.Products {
		for i := range f.perProd[p] {
			in := fixture.Instance{Product: p, Name: fmt.Sprintf("%s-%d", p, i)}
			switch p {
			case provider.MySQL:
				in.ID = fmt.Sprintf("cdb-s%07d", i)
			case provider.SQLServer:
				in.ID = fmt.Sprintf("mssql-s%07d", i)
				in.Databases = []fixture.Database{{Name: "db1"}}
			case provider.MongoDB:
				in.ID = fmt.Sprintf("cmgo-s%07d", i)
			case provider.HuaweiRDS:
				in.ID = fmt.Sprintf("%032xin01", i)
				in.Region, in.Engine = "cn-north-4", "MySQL"
			}
			d := time.Duration(float64(durMedian) * math.Exp(durSigma*rng.NormFloat64()))
			f.instances = append(f.instances, in)
			f.base = append(f.base, min(max(d, durMin), durMax))
		}
	}
	return f
}

// night returns the fixture for one night: every instance's duration is its
// base with this night's jitter, reproducibly from seed and night.
func (f *fleet) night(seed uint64, night int) *fixture.Set {
	rng := rand.New(rand.NewPCG(seed^uint64(night+1)*0x9e3779b97f4a7c15, 0x6e696768))
	def := fixture.Default()
	set := &fixture.Set{HuaweiProjectID: def.HuaweiProjectID, AppID: def.AppID, Uin: def.Uin, Buckets: def.Buckets,
		Instances: slices.Clone(f.instances)}
	for i := range set.Instances {
		j := 1 + jitter*(2*rng.Float64()-1)
		set.Instances[i].Duration = time.Duration(float64(f.base[i]) * j).Round(time.Second)
	}
	return set
}

// lowerBound is the fan-out makespan the create rate limits allow at best:
// per product count/rate seconds, the slowest product bounding the whole.
func (f *fleet) lowerBound() time.Duration {
	var lb time.Duration
	for p, n := range f.perProd {
		if n == 0 {
			continue
		}
		rate := provider.LimitsOf(p, provider.Backup).CreatePerSecond
		lb = max(lb, time.Duration(math.Ceil(float64(n)/rate))*time.Second)
	}
	return lb
}
