package tcmysql

import (
	"testing"

	"github.com/backupflow/backupflow/pkg/tencent"
	"github.com/backupflow/backupflow/pkg/tencent/tencenttest"
)

type (
	cloudError = tencenttest.CloudError
)

func newFake(t *testing.T, handlers map[string]func(body []byte) any) (*tencenttest.Fake, *tencent.Client) {
	return tencenttest.NewFake(t, handlers)
}
