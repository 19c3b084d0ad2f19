package ledger_test

import (
	"context"
	"fmt"

	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/openurl"
)

func ExampleLedger_Claim() {
	ctx := context.Background()
	l, err := ledger.Open(ctx, "mem://example", openurl.Env{})
	if err != nil {
		panic(err)
	}
	// The same COS event delivered twice: only the first delivery imports.
	for delivery := 1; delivery <= 2; delivery++ {
		first, err := l.Claim(ctx, "claims/import/backups-1250000000/orders.bak/etag-9b2c", []byte("running"))
		if err != nil {
			panic(err)
		}
		fmt.Printf("delivery %d: import=%v\n", delivery, first)
	}
	// Output:
	// delivery 1: import=true
	// delivery 2: import=false
}
