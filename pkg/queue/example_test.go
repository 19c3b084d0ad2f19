package queue_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	_ "github.com/backupflow/backupflow/pkg/queue/memqueue"
)

func ExampleOpen() {
	ctx := context.Background()
	q, err := queue.Open(ctx, "mem://example-jobs", openurl.Env{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Send(ctx, []byte(`{"job":"backup cdb-1"}`), 0); err != nil {
		log.Fatal(err)
	}
	ms, err := q.Receive(ctx, 10, 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range ms {
		fmt.Printf("%s (delivery %d)\n", m.Body, m.Receives)
		if err := q.Delete(ctx, m.Receipt); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("max delay:", q.MaxDelay() == time.Hour)
	// Output:
	// {"job":"backup cdb-1"} (delivery 1)
	// max delay: true
}
