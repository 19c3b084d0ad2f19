package tcmongodb

import (
	"testing"

	"github.com/backupflow/backupflow/pkg/tencent"
	"github.com/backupflow/backupflow/pkg/tencent/tencenttest"
)

type ()

func newFake(t *testing.T, handlers map[string]func(body []byte) any) (*tencenttest.Fake, *tencent.Client) {
	return tencenttest.NewFake(t, handlers)
}
