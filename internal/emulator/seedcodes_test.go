package emulator_test

import (
	"bufio"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/provider/tcmongodb"
	"github.com/backupflow/backupflow/pkg/provider/tcmysql"
	"github.com/backupflow/backupflow/pkg/provider/tcsqlserver"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// TestEverySeedErrorCodeOverTheWire makes the emulator answer each error code
// the seed documents list, in the documented envelope, and checks the
// project's adapter — through the official SDK — surfaces it with its code,
// request id and kind.
func TestEverySeedErrorCodeOverTheWire(t *testing.T) {
	emu, err := emulator.New(emulator.Options{DisableRateLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c, err := tencent.New(tencent.Config{Credentials: tencent.Credentials{SecretID: emulator.DefaultSecretID,
		SecretKey: secret.String(emulator.DefaultSecretKey)}, Region: "ap-guangzhou", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	mysql := tcmysql.New(c, tcmysql.Options{Region: "ap-guangzhou"})
	mssql := tcsqlserver.New(c, tcsqlserver.Options{Region: "ap-guangzhou"})
	mongo := tcmongodb.New(c, tcmongodb.Options{Region: "ap-guangzhou"})
	start := map[string]func(i int) error{
		"cdb CreateBackup": func(i int) error {
			_, err := mysql.Start(context.Background(), provider.Spec{Op: provider.Backup, Product: provider.MySQL,
				InstanceID: "cdb-c1nl9rpv", Name: "seedcode" + strconv.Itoa(i)})
			return err
		},
		"sqlserver CreateBackup": func(i int) error {
			_, err := mssql.Start(context.Background(), provider.Spec{Op: provider.Backup, Product: provider.SQLServer,
				InstanceID: "mssql-njj2mtpl", Name: "seedcode" + strconv.Itoa(i)})
			return err
		},
		"mongodb CreateBackupDBInstance": func(i int) error {
			_, err := mongo.Start(context.Background(), provider.Spec{Op: provider.Backup, Product: provider.MongoDB,
				InstanceID: "cmgo-ayxpky6l", Name: "seedcode" + strconv.Itoa(i)})
			return err
		},
		"sqlserver StartBackupMigration": func(i int) error {
			_, err := mssql.Start(context.Background(), provider.Spec{Op: provider.Import, Product: provider.SQLServer,
				InstanceID: "mssql-rdc0gajn", Name: "seedcode" + strconv.Itoa(i),
				SourceURL: "https://backups-1250000000.cos.ap-guangzhou.myqcloud.com/x.bak?q-signature=s"})
			return err
		},
	}
	f, err := os.Open("../../pkg/apierr/testdata/seed_codes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Fields(line)
		service, action, code := p[0], p[1], p[2]
		call, ok := start[service+" "+action]
		if !ok {
			t.Fatalf("no call for %s %s", service, action)
		}
		n++
		emu.Tencent.InjectError(service, action, code, "documented error "+code)
		err := call(n)
		var ae *apierr.Error
		if !errors.As(err, &ae) {
			t.Errorf("%s %s %s: got %v; want *apierr.Error", service, action, code, err)
			continue
		}
		if ae.Code != code || ae.RequestID == "" || ae.Message != "documented error "+code {
			t.Errorf("%s %s: got code %q message %q request id %q; want %q with its message and a request id",
				service, action, ae.Code, ae.Message, ae.RequestID, code)
		}
		if ae.Kind != apierr.Classify(apierr.Tencent, code) || apierr.KindOf(err) != ae.Kind {
			t.Errorf("%s: kind %v; want %v", code, ae.Kind, apierr.Classify(apierr.Tencent, code))
		}
	}
	if n < 50 {
		t.Fatalf("only %d seed codes exercised", n)
	}
}
