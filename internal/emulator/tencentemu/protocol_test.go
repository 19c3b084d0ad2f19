package tencentemu

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// Typed requests with `name` tags: the only shape the SDK flattens into a
// query string (GET) or form body (v1 signatures).
type getMssqlCreateBackup struct {
	*tchttp.BaseRequest
	InstanceId *string   `name:"InstanceId"`
	Strategy   *int64    `name:"Strategy"`
	DBNames    []*string `name:"DBNames"`
}

type getCdbTable struct {
	Db    *string `name:"Db"`
	Table *string `name:"Table"`
}

type getCdbCreateBackup struct {
	*tchttp.BaseRequest
	InstanceId        *string        `name:"InstanceId"`
	BackupMethod      *string        `name:"BackupMethod"`
	BackupDBTableList []*getCdbTable `name:"BackupDBTableList"`
	ManualBackupName  *string        `name:"ManualBackupName"`
}

func ptr[T any](v T) *T { return &v }

// sdkClient builds an SDK client for GET or v1 modes.
func sdkClient(url, method, sign, key string) *common.Client {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(url, "http://")
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqMethod = method
	cpf.HttpProfile.ReqTimeout = 10
	cpf.DisableRegionBreaker = true
	switch sign {
	case "":
	case "unsigned":
		cpf.UnsignedPayload = true
	default:
		cpf.SignMethod = sign
	}
	return common.NewCommonClient(common.NewCredential(testID, key), "ap-guangzhou", cpf)
}

func TestSDKModes(t *testing.T) {
	modes := []struct{ name, method, sign string }{
		{"TC3 GET", "GET", ""},
		{"TC3 POST unsigned payload", "POST", "unsigned"},
		{"v1 HmacSHA256 GET", "GET", "HmacSHA256"},
		{"v1 HmacSHA1 POST", "POST", "HmacSHA1"},
		{"v1 HmacSHA256 POST", "POST", "HmacSHA256"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, Options{DisableRateLimits: true})
			cli := sdkClient(e.srv.URL, m.method, m.sign, testKey)

			req := &getMssqlCreateBackup{BaseRequest: &tchttp.BaseRequest{},
				InstanceId: ptr("mssql-njj2mtpl"), Strategy: ptr(int64(1)), DBNames: []*string{ptr("db1"), ptr("db2")}}
			req.Init().WithApiInfo("sqlserver", "2018-03-28", "CreateBackup")
			resp := tchttp.NewCommonResponse()
			if err := cli.Send(req, resp); err != nil {
				t.Fatalf("sqlserver CreateBackup: %v", err)
			}
			if !strings.Contains(string(resp.GetBody()), `"FlowId"`) {
				t.Errorf("no FlowId: %s", resp.GetBody())
			}

			creq := &getCdbCreateBackup{BaseRequest: &tchttp.BaseRequest{},
				InstanceId: ptr("cdb-c1nl9rpv"), BackupMethod: ptr("logical"), ManualBackupName: ptr("nightly-1"),
				BackupDBTableList: []*getCdbTable{{Db: ptr("db1"), Table: ptr("tb2")}, {Db: ptr("db2")}}}
			creq.Init().WithApiInfo("cdb", "2017-03-20", "CreateBackup")
			if err := cli.Send(creq, tchttp.NewCommonResponse()); err != nil {
				t.Fatalf("cdb CreateBackup with nested objects: %v", err)
			}
			jobs := e.s.Jobs()
			if len(jobs) != 2 || jobs[1].Name != "nightly-1" {
				t.Errorf("jobs = %+v", jobs)
			}
			e.s.mu.Lock()
			var tables []tableItem
			for _, j := range e.s.st.jobs {
				if j.kind == cdbBackup {
					tables = j.tables
				}
			}
			e.s.mu.Unlock()
			if len(tables) != 2 || tables[0] != (tableItem{"db1", "tb2"}) || tables[1] != (tableItem{Db: "db2"}) {
				t.Errorf("decoded tables = %+v", tables)
			}

			// A wrong key fails in every mode.
			bad := sdkClient(e.srv.URL, m.method, m.sign, "wrong")
			err := bad.Send(creq, tchttp.NewCommonResponse())
			var se *sdkerr.TencentCloudSDKError
			if !errors.As(err, &se) || se.Code != codeSignatureFailure {
				t.Errorf("wrong key: %v", err)
			}
		})
	}
}

// tamper rewrites the body after the SDK signed it.
type tamper struct{}

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	b = bytes.Replace(b, []byte("cdb-c1nl9rpv"), []byte("cdb-k2m4p6r8"), 1)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.ContentLength = int64(len(b))
	return http.DefaultTransport.RoundTrip(r2)
}

func TestAuthFailures(t *testing.T) {
	body := map[string]any{"InstanceId": "cdb-c1nl9rpv", "BackupMethod": "physical"}
	t.Run("wrong key", func(t *testing.T) {
		e := newEnv(t, Options{DisableRateLimits: true})
		err := newClient(t, e.srv.URL, testID, "not-the-key").Call(context.Background(), cdbAction("CreateBackup"), body, nil)
		wantCode(t, err, codeSignatureFailure)
	})
	t.Run("unknown secret id", func(t *testing.T) {
		e := newEnv(t, Options{DisableRateLimits: true})
		err := newClient(t, e.srv.URL, "AKIDnobody", testKey).Call(context.Background(), cdbAction("CreateBackup"), body, nil)
		wantCode(t, err, codeSecretIDNotFound)
	})
	t.Run("stale timestamp", func(t *testing.T) {
		wall := newClock()
		e := newEnv(t, Options{DisableRateLimits: true, SignatureNow: wall.Now})
		// 310 s, not 301: the client stamps the real time in whole seconds
		// when it calls, and the clock started at the whole second before;
		// a call one second boundary later was 300 s off, within the limit
		// (failed in .ci/run under load).
		wall.Advance(310 * time.Second)
		wantCode(t, e.call("cdb", "CreateBackup", body, nil), codeSignatureExpire)
	})
	t.Run("timestamp within skew", func(t *testing.T) {
		wall := newClock()
		e := newEnv(t, Options{DisableRateLimits: true, SignatureNow: wall.Now})
		wall.Advance(-290 * time.Second)
		e.clock.Advance(48 * time.Hour) // the job clock does not matter to signatures
		e.mustCall("cdb", "CreateBackup", body, nil)
	})
	t.Run("body changed after signing", func(t *testing.T) {
		e := newEnv(t, Options{DisableRateLimits: true})
		e.cli = mustClientWithTransport(t, e.srv.URL, tamper{})
		wantCode(t, e.call("cdb", "CreateBackup", body, nil), codeSignatureFailure)
		if n := len(e.s.Jobs()); n != 0 {
			t.Errorf("a tampered request created %d jobs", n)
		}
	})
	raws := []struct {
		name   string
		mutate func(*http.Request)
		want   string
	}{
		{"malformed header", func(r *http.Request) { r.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential=x") }, codeInvalidAuthorization},
		{"other algorithm", func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, codeInvalidAuthorization},
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, codeInvalidAuthorization},
		{"bad timestamp", func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "soon") }, codeInvalidAuthorization},
		{"host changed", func(r *http.Request) { r.Host = "cdb.tencentcloudapi.com" }, codeSignatureFailure},
		{"token accepted", func(r *http.Request) { r.Header.Set("X-TC-Token", "session-token") }, ""},
	}
	for _, tc := range raws {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{DisableRateLimits: true})
			resp := e.raw(http.MethodPost, "cdb", "DescribeBackups", "", []byte(`{"InstanceId":"cdb-c1nl9rpv"}`), tc.mutate)
			if got := errCode(resp); got != tc.want {
				t.Errorf("code = %q, want %q", got, tc.want)
			}
		})
	}
}

func cdbAction(name string) tencentAction {
	return tencentAction{Service: "cdb", Version: "2017-03-20", Name: name}
}

func TestRoutingAndParameters(t *testing.T) {
	tests := []struct {
		name, service, action, version, body, want string
	}{
		{"wrong version", "cdb", "DescribeBackups", "2019-01-01", `{"InstanceId":"cdb-c1nl9rpv"}`, codeNoSuchVersion},
		{"unknown action", "cdb", "DropEverything", "", `{}`, codeInvalidAction},
		{"unknown product", "cvm", "DescribeInstances", "2017-03-12", `{}`, codeNoSuchProduct},
		{"unknown parameter", "cdb", "DescribeBackups", "", `{"InstanceId":"cdb-c1nl9rpv","BackupId":1}`, codeUnknownParameter},
		{"unknown nested parameter", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-c1nl9rpv","BackupMethod":"logical","BackupDBTableList":[{"Db":"db1","Schema":"x"}]}`, codeUnknownParameter},
		{"missing parameter", "sqlserver", "DescribeBackups", "", `{"InstanceId":"mssql-njj2mtpl"}`, codeMissingParameter},
		{"FlowId must be a string", "sqlserver", "DescribeBackupByFlowId", "", `{"InstanceId":"mssql-njj2mtpl","FlowId":5293}`, codeInvalidParameter},
		{"BackupMethod must be an integer", "mongodb", "CreateBackupDBInstance", "", `{"InstanceId":"cmgo-ayxpky6l","BackupMethod":"0"}`, codeInvalidParameter},
		{"not json", "cdb", "DescribeBackups", "", `{"InstanceId":`, codeInvalidParameter},
		{"illegal cdb name", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-c1nl9rpv","BackupMethod":"physical","ManualBackupName":"` + strings.Repeat("a", 61) + `"}`, codeInvalidParameter},
		{"illegal sqlserver name", "sqlserver", "CreateBackup", "", `{"InstanceId":"mssql-njj2mtpl","BackupName":"x; drop"}`, codeBackupNameIllegal},
		{"illegal migration name", "sqlserver", "CreateBackupMigration", "", `{"InstanceId":"mssql-rdc0gajn","RecoveryType":"FULL","UploadType":"COS_URL","MigrationName":"a/b","BackupFiles":["https://x/y.bak"]}`, codeMigrationNameIllegal},
		{"cdb unknown instance", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-nope0000","BackupMethod":"physical"}`, codeCdbInstanceNotFound},
		{"sqlserver unknown instance", "sqlserver", "CreateBackup", "", `{"InstanceId":"mssql-nope0000"}`, codeMssqlInstanceNotFound},
		{"mongodb unknown instance", "mongodb", "CreateBackupDBInstance", "", `{"InstanceId":"cmgo-nope0000","BackupMethod":0}`, codeMongoNotFound},
		{"cdb unknown table", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-c1nl9rpv","BackupMethod":"logical","BackupDBTableList":[{"Db":"db1","Table":"nope"}]}`, codeInvalidParameter},
		{"cdb illegal name", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-c1nl9rpv","BackupMethod":"logical","ManualBackupName":"a b"}`, codeInvalidParameter},
		{"cdb basic edition physical", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-b4sic001","BackupMethod":"physical"}`, codeCdbActionNotSupport},
		{"sqlserver unknown db", "sqlserver", "CreateBackup", "", `{"InstanceId":"mssql-njj2mtpl","Strategy":1,"DBNames":["db9"]}`, codeDBNotFound},
		{"cdb read-only", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-ro000001","BackupMethod":"physical"}`, codeCdbActionNotSupport},
		{"cdb isolated", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-iso00001","BackupMethod":"physical"}`, codeCdbStatusConflict},
		{"sqlserver creating", "sqlserver", "CreateBackup", "", `{"InstanceId":"mssql-cr8ating"}`, codeMssqlStatusInvalid},
		{"cdb tables need logical", "cdb", "CreateBackup", "", `{"InstanceId":"cdb-c1nl9rpv","BackupMethod":"physical","BackupDBTableList":[{"Db":"db1"}]}`, codeInvalidParameter},
		{"cdb limit over 100", "cdb", "DescribeBackups", "", `{"InstanceId":"cdb-c1nl9rpv","Limit":101}`, codeInvalidParameter},
		{"wrong region", "cdb", "DescribeBackups", "", `{"InstanceId":"cdb-c1nl9rpv"}`, ""},
		{"tdmq without CMQ", "tdmq", "SendCmqMsg", "", `{"QueueName":"q","MsgContent":"m","DelaySeconds":0}`, codeUnsupportedOperation},
		{"unknown migration", "sqlserver", "StartBackupMigration", "", `{"InstanceId":"mssql-rdc0gajn","BackupMigrationId":"mssql-backup-migration-00000000"}`, codeMigrationNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{DisableRateLimits: true})
			version := tc.version
			resp := e.raw(http.MethodPost, tc.service, "", "", []byte(tc.body), func(r *http.Request) {
				r.Header.Set("X-TC-Action", tc.action)
				if version == "" {
					version = services[tc.service].version
				}
				r.Header.Set("X-TC-Version", version)
			})
			if got := errCode(resp); got != tc.want {
				t.Errorf("code = %q, want %q (%v)", got, tc.want, resp["Error"])
			}
		})
	}
}

func TestRegionScoping(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true})
	err := e.cli.Call(context.Background(), tencentAction{Service: "cdb", Version: "2017-03-20", Name: "DescribeBackups", Region: "ap-shanghai"},
		map[string]any{"InstanceId": "cdb-c1nl9rpv"}, nil)
	wantCode(t, err, codeCdbInstanceNotFound)
}

func TestRequestSizeLimit(t *testing.T) {
	e := newEnv(t, Options{DisableRateLimits: true})
	big := []byte(`{"InstanceId":"` + strings.Repeat("x", maxPostBody) + `"}`)
	resp := e.raw(http.MethodPost, "cdb", "DescribeBackups", "", big, nil)
	if got := errCode(resp); got != codeRequestSizeLimit {
		t.Errorf("code = %q", got)
	}
}

func TestCodesAreKnownToApierr(t *testing.T) {
	s := New(Options{SecretID: testID, SecretKey: testKey})
	known := map[string]bool{}
	for _, c := range apierr.KnownCodes(apierr.Tencent) {
		known[c] = true
	}
	for _, c := range s.Codes() {
		prefix, _, _ := strings.Cut(c, ".")
		if !known[c] && !known[prefix] {
			t.Errorf("code %s is neither an entry of apierr's table nor under a known prefix", c)
		}
	}
}

// The cached signing key is the one derived for exactly that secret, date
// and service: a key cached for one never verifies another, also after the
// cache has been emptied for size.
func TestSigningKeyCacheIsPerSecretDateService(t *testing.T) {
	s := New(Options{SecretID: testID, SecretKey: testKey})
	var combos [][3]string
	for _, secret := range []string{testKey, "other-secret"} {
		for day := range 40 {
			date := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).Format("2006-01-02")
			for _, svc := range []string{"cdb", "sqlserver"} {
				combos = append(combos, [3]string{secret, date, svc})
			}
		}
	}
	for round := range 2 {
		for _, c := range combos {
			got, want := s.signingKey(c[0], c[1], c[2]), tc3Key(c[0], c[1], c[2])
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d: signing key for %v differs from its derivation", round, c)
			}
		}
	}
	if len(s.keys) > 64 {
		t.Errorf("cache holds %d keys; want at most 64", len(s.keys))
	}
}
