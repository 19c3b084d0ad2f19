package notify_test

import (
	"context"
	"os"
	"time"

	"github.com/backupflow/backupflow/pkg/notify"
)

func ExampleNewPrinter() {
	p := notify.NewPrinter(os.Stdout)
	p.Send(context.Background(), notify.Message{
		Level:  notify.Success,
		Title:  "Backup finished",
		Text:   "cdb-c1nl9rpv backed up to cos://backups/cdb-c1nl9rpv/2026-11-22.xb",
		Fields: []notify.Field{{Name: "Size", Value: "12.3 GiB"}, {Name: "Took", Value: "18m"}},
		JobID:  "42",
	})
	// Output:
	// [notify] ✅ Backup finished (job 42)
	//   cdb-c1nl9rpv backed up to cos://backups/cdb-c1nl9rpv/2026-11-22.xb
	//   Size: 12.3 GiB
	//   Took: 18m
}

func ExampleParseList() {
	n, err := notify.ParseList("print:slack", &notify.Options{Stdout: os.Stdout, FailuresOnly: true})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	n.Send(ctx, notify.Message{Level: notify.Success, Title: "quiet"}) // dropped: FailuresOnly
	n.Send(ctx, notify.Summary("nightly 2026-11-22", []notify.Result{
		{JobID: "n-1", Target: "cdb-c1nl9rpv", Outcome: notify.Succeeded, Duration: 18 * time.Minute},
		{JobID: "n-2", Target: "mssql-j8kv137v", Outcome: notify.Failed, Detail: "FailedOperation: disk <full>"},
	}))
	// Output:
	// [slack] ❌ nightly 2026-11-22: 1 of 2 jobs did not succeed (job nightly 2026-11-22)
	//   2 jobs: 1 succeeded, 1 failed
	//   - mssql-j8kv137v failed (job n-2): FailedOperation: disk &lt;full&gt;
}
