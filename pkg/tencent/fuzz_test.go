package tencent_test

import (
	"testing"

	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// FuzzParseEndpoints: BACKUPFLOW_TENCENT_ENDPOINTS never panics the
// loader, and whatever it accepts builds a client.
func FuzzParseEndpoints(f *testing.F) {
	f.Add("cdb=cdb.ap-singapore.intl.tencentcloudapi.com,sqlserver=https://sqlserver.intl.tencentcloudapi.com")
	f.Add("mongodb=http://127.0.0.1:9000")
	f.Add("cdb=,=x,,cdb=ftp://x")
	f.Fuzz(func(t *testing.T, s string) {
		eps, err := tencent.ParseEndpoints(s)
		if err != nil {
			return
		}
		if _, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: "id", SecretKey: secret.String("k")},
			Region: "ap-guangzhou", Endpoints: eps}); err != nil {
			t.Fatalf("ParseEndpoints(%q) accepted %v, but New refuses it: %v", s, eps, err)
		}
	})
}
