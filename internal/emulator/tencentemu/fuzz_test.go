package tencentemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary JSON bodies and query strings to the parameter
// decoders of every action: they must never panic, and whatever they accept
// must bind to a typed request.
func FuzzDecode(f *testing.F) {
	f.Add(`{"InstanceId":"cdb-c1nl9rpv","BackupDBTableList":[{"Table":"tb1","Db":"db1"}],"BackupMethod":"logical"}`,
		"InstanceId=mssql-njj2mtpl&Strategy=1&DBNames.0=db1&DBNames.1=db2")
	f.Add(`{"TagFilters":[{"TagKey":"a","TagValue":["b"]}]}`, "TagFilters.0.TagKey=a&TagFilters.0.TagValue.0=b")
	f.Add(`{"FlowId":"12"}`, "BackupDBTableList.0.Db=db1&BackupDBTableList.3.Table=x")
	f.Add(`[1,2]`, "Limit=9223372036854775808&Offset=-1")
	f.Add(`{"Limit":1e3,"Tags":[null,{}]}`, "DBNames=x&DBNames.a=1&Tags.0=x")
	f.Add(`{"x":`, "%zz")
	f.Fuzz(func(t *testing.T, body, query string) {
		for _, svc := range services {
			for name, act := range svc.actions {
				if p, err := decodeJSON([]byte(body), act.params); err == nil {
					if berr := bind(p, &map[string]any{}); berr != nil {
						t.Fatalf("%s: accepted JSON does not bind: %v", name, berr)
					}
				}
				if v, err := url.ParseQuery(query); err == nil {
					if p, err := decodeForm(v, act.params); err == nil {
						if berr := bind(p, &map[string]any{}); berr != nil {
							t.Fatalf("%s: accepted form does not bind: %v", name, berr)
						}
					}
				}
			}
		}
	})
}

// FuzzServeHTTP sends arbitrary, correctly signed requests through the whole
// server: every answer must be HTTP 200 with a well-formed envelope.
func FuzzServeHTTP(f *testing.F) {
	f.Add("cdb", "CreateBackup", `{"InstanceId":"cdb-c1nl9rpv","BackupMethod":"physical"}`, "")
	f.Add("sqlserver", "CreateBackup", ``, "Action=CreateBackup&InstanceId=mssql-njj2mtpl&Strategy=1&DBNames.0=db1")
	f.Add("sqlserver", "DescribeBackups", `{"InstanceId":"mssql-njj2mtpl","StartTime":"2024-01-01 00:00:00","EndTime":"x"}`, "")
	f.Add("mongodb", "DescribeDBInstances", `{"Tags":[{"TagKey":"k"}],"Limit":100}`, "")
	f.Add("tag", "GetResources", `{"PaginationToken":"-5"}`, "")
	f.Add("nope", "", `{}`, "")
	f.Add("sqlserver", "DescribeBackups", `{"InstanceId":"mssql-njj2mtpl","StartTime":"2024-01-01 00:00:00","EndTime":"2030-01-01 00:00:00","Offset":9223372036854775807,"Limit":100}`, "")
	f.Add("sqlserver", "DescribeDBInstances", `{"Offset":4611686018427387904,"Limit":2}`, "")
	now := time.Unix(1_700_000_000, 0)
	s := New(Options{SecretID: testID, SecretKey: testKey, DisableRateLimits: true,
		Now: func() time.Time { return now }, SignatureNow: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, service, action, body, query string) {
		method := http.MethodPost
		if query != "" {
			method = http.MethodGet
			body = ""
		}
		r := httptest.NewRequest(method, "http://emulator.local/", bytes.NewReader([]byte(body)))
		r.URL.RawQuery = query
		if method == http.MethodGet {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r.Header.Set("Content-Type", "application/json")
		}
		r.Header.Set("X-TC-Action", action)
		if p, ok := services[service]; ok {
			r.Header.Set("X-TC-Version", p.version)
		}
		signTC3(r, []byte(body), service, testID, testKey, now.Unix())
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d", w.Code)
		}
		var env struct {
			Response struct {
				RequestId string
				Error     *struct{ Code, Message string }
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Response.RequestId == "" {
			t.Fatalf("bad envelope %q: %v", w.Body.String(), err)
		}
		if env.Response.Error != nil && env.Response.Error.Code == "" {
			t.Fatalf("error without a code: %s", w.Body.String())
		}
	})
}

// FuzzParseTC3 checks the Authorization parser never panics and that what it
// accepts is well formed.
func FuzzParseTC3(f *testing.F) {
	f.Add("TC3-HMAC-SHA256 Credential=AKID/2024-01-01/cdb/tc3_request, SignedHeaders=content-type;host, Signature=" + string(bytes.Repeat([]byte("a"), 64)))
	f.Add("TC3-HMAC-SHA256 Credential=/x//, SignedHeaders=;, Signature=")
	f.Add("TC3-HMAC-SHA256 Credential==, SignedHeaders=B;a")
	f.Fuzz(func(t *testing.T, h string) {
		a, ok := parseTC3(h)
		if !ok {
			return
		}
		if a.SecretID == "" || a.Service == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted a malformed header: %+v", a)
		}
		if _, err := strconv.ParseUint(a.Date[:4], 10, 16); err != nil {
			t.Fatalf("bad date %q", a.Date)
		}
	})
}
