package event_test

import (
	"fmt"

	"github.com/backupflow/backupflow/pkg/event"
)

func ExampleDecode() {
	payload := []byte(`{"Records":[{"cos":{"cosBucket":{"name":"backups","appid":"1250000000","region":"gz"},
		"cosObject":{"key":"/1250000000/backups/imports/mssql-rdc0gajn/orders.bak","size":1024,"vid":""}},
		"event":{"eventName":"cos:ObjectCreated:Put","eventTime":1773500000,"reqid":179398952}}]}`)
	tr, err := event.Decode(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range tr.Objects {
		fmt.Println(o.Bucket, o.Region, o.Key, o.Size)
	}
	// Output: backups-1250000000 ap-guangzhou imports/mssql-rdc0gajn/orders.bak 1024
}
