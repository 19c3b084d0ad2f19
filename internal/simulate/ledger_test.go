package simulate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
)

// TestIndexedLedgerListsAsTheLedger: after random claims, puts and deletes,
// every listing the index answers (each indexed prefix, and directories
// under it) is the plain mem:// ledger's, key for key and in order.
func TestIndexedLedgerListsAsTheLedger(t *testing.T) {
	ctx := context.Background()
	open := func(name string) *ledger.Ledger {
		l, err := ledger.Open(ctx, "mem://"+name, openurl.Env{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	plain, idx := open("indexed-test-plain"), newIndexedLedger(open("indexed-test-indexed"))
	rng := rand.New(rand.NewPCG(1, 2))
	var keys []string
	for _, p := range append(slices.Clone(indexedPrefixes), "jobs/", "open-runsx/") {
		for i := range 8 {
			keys = append(keys, fmt.Sprintf("%sr%d/k%d", p, i%3, i), fmt.Sprintf("%sk%d", p, i))
		}
	}
	for range 2000 {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(3) {
		case 0:
			a, err1 := plain.Claim(ctx, k, []byte("v"))
			b, err2 := idx.Claim(ctx, k, []byte("v"))
			if a != b || err1 != nil || err2 != nil {
				t.Fatalf("claim %s: %v %v, %v %v", k, a, err1, b, err2)
			}
		case 1:
			if plain.Put(ctx, k, []byte("v")) != nil || idx.Put(ctx, k, []byte("v")) != nil {
				t.Fatal("put failed")
			}
		case 2:
			if plain.Delete(ctx, k) != nil || idx.Delete(ctx, k) != nil {
				t.Fatal("delete failed")
			}
		}
	}
	var prefixes []string
	for _, p := range indexedPrefixes {
		prefixes = append(prefixes, p, p+"r0/", p+"r2/")
	}
	for _, p := range prefixes {
		want, err1 := plain.List(ctx, p)
		got, err2 := idx.List(ctx, p)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(%q) = %v; the ledger lists %v", p, got, want)
		}
	}
}
