package tcmongodb

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

func spec(name, method string) provider.Spec {
	return provider.Spec{Op: provider.Backup, Product: provider.MongoDB, InstanceID: "cmgo-ayxpky6l", Name: name, Method: method}
}

func TestAsyncIDDecode(t *testing.T) {
	cases := []struct {
		in   string
		want AsyncID
		fail bool
	}{
		{in: `{"AsyncRequestId":4773}`, want: "4773"},     // the seed example
		{in: `{"AsyncRequestId":"4773"}`, want: "4773"},   // the reference's type
		{in: `{"AsyncRequestId":"a-1_x"}`, want: "a-1_x"}, // any id shape a string may take
		{in: `{"AsyncRequestId":null}`, want: ""},         // absent
		{in: `{}`, want: ""},                              // absent
		{in: `{"AsyncRequestId":12345678901234}`, want: "12345678901234"},
		{in: `{"AsyncRequestId":1.5}`, fail: true},
		{in: `{"AsyncRequestId":true}`, fail: true},
		{in: `{"AsyncRequestId":"../x"}`, fail: true},
		{in: `{"AsyncRequestId":[1]}`, fail: true},
	}
	for _, tc := range cases {
		var r CreateBackupDBInstanceResponse
		err := json.Unmarshal([]byte(tc.in), &r)
		if tc.fail {
			if err == nil {
				t.Errorf("decode %s = %q; want an error", tc.in, r.AsyncRequestId)
			}
			continue
		}
		if err != nil || r.AsyncRequestId != tc.want {
			t.Errorf("decode %s = %q, %v; want %q", tc.in, r.AsyncRequestId, err, tc.want)
		}
	}
}

func FuzzAsyncID(f *testing.F) {
	for _, s := range []string{`4773`, `"4773"`, `null`, `1e3`, `"x"`, `-1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var a AsyncID
		if err := a.UnmarshalJSON([]byte(s)); err != nil || a == "" {
			return
		}
		// Whatever decodes must make a Ref that parses back to itself.
		r, err := ParseRef(provider.Ref("async/" + string(a)))
		if err != nil || r.Async != string(a) {
			t.Fatalf("AsyncID %q from %q does not round-trip through a Ref: %v", a, s, err)
		}
	})
}

func TestParseRef(t *testing.T) {
	cases := []struct {
		ref  provider.Ref
		want ParsedRef
		fail bool
	}{
		{ref: "async/4773", want: ParsedRef{Async: "4773"}},
		{ref: "backup/12", want: ParsedRef{BackID: 12}},
		{ref: "backup/0", fail: true},
		{ref: "backup/x", fail: true},
		{ref: "async/", fail: true},
		{ref: "async/a/b", fail: true},
		{ref: "flow/1", fail: true},
	}
	for _, tc := range cases {
		got, err := ParseRef(tc.ref)
		if tc.fail != (err != nil) || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v (fail %v)", tc.ref, got, err, tc.want, tc.fail)
		}
		if err != nil && !errors.Is(err, apierr.ErrInvalidInput) {
			t.Errorf("ParseRef(%q) err = %v; want invalid input", tc.ref, err)
		}
	}
}

func TestAsyncState(t *testing.T) {
	cases := map[string]provider.State{"initial": provider.Running, "running": provider.Running, "success": provider.Succeeded,
		"failed": provider.Failed, "paused": provider.Failed, "undoed": provider.Failed, "SUCCESS": provider.Succeeded, "weird": provider.Failed}
	for in, want := range cases {
		got, detail := AsyncState(in)
		if got != want || (got == provider.Failed && detail == "") {
			t.Errorf("AsyncState(%q) = %v %q; want %v with a detail on failure", in, got, detail, want)
		}
	}
}

func TestStartRequest(t *testing.T) {
	f, c := newFake(t, map[string]func([]byte) any{
		"CreateBackupDBInstance": func([]byte) any { return map[string]any{"AsyncRequestId": 4773} },
	})
	p := New(c, Options{})
	for _, m := range []struct {
		method string
		want   float64
	}{{"logical", 0}, {"physical", 1}, {"snapshot", 3}} { // no method: TestRedeliveryAdopts
		ref, err := p.Start(context.Background(), spec("nightly-1", m.method))
		if err != nil || ref != "async/4773" {
			t.Fatalf("Start = %q, %v", ref, err)
		}
		calls := f.Calls()
		want := map[string]any{"InstanceId": "cmgo-ayxpky6l", "BackupMethod": m.want, "BackupRemark": "nightly-1"}
		if got := calls[len(calls)-1].Body; !reflect.DeepEqual(got, want) {
			t.Errorf("method %q: body = %v; want %v", m.method, got, want)
		}
	}
}

func TestFindAndListedStatus(t *testing.T) {
	list := []BackupInfo{
		{BackId: 1, BackupType: 0, BackupDesc: "nightly-1", Status: 2, StartTime: "2026-01-03 00:00:00"}, // automatic: not ours
		{BackId: 2, BackupType: 1, BackupDesc: "nightly-1", Status: 2, StartTime: "2026-01-01 00:00:00"},
		{BackId: 3, BackupType: 1, BackupDesc: "nightly-1", Status: 1, StartTime: "2026-01-02 00:00:00"},
		{BackId: 4, BackupType: 1, BackupDesc: "nightly-10", Status: 2, StartTime: "2026-01-04 00:00:00"},
	}
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeDBBackups": func(body []byte) any {
			var req DescribeDBBackupsRequest
			_ = json.Unmarshal(body, &req)
			lo := min(int(req.Offset), len(list))
			hi := min(lo+1, len(list)) // one row per page to exercise paging
			return DescribeDBBackupsResponse{TotalCount: uint64(len(list)), BackupList: list[lo:hi]}
		},
	})
	p := New(c, Options{})
	ctx := context.Background()
	ref, found, err := p.Find(ctx, spec("nightly-1", ""))
	if err != nil || !found || ref != "backup/3" {
		t.Fatalf("Find = %q, %v, %v; want the newest manual one, backup/3", ref, found, err)
	}
	for ref, want := range map[provider.Ref]provider.State{"backup/3": provider.Running, "backup/2": provider.Succeeded, "backup/99": provider.Failed} {
		if st, err := p.Status(ctx, spec("nightly-1", ""), ref); err != nil || st.State != want {
			t.Errorf("Status(%s) = %+v, %v; want %v", ref, st, err, want)
		}
	}
	if _, found, err := p.Find(ctx, spec("nightly-2", "")); err != nil || found {
		t.Errorf("Find(nightly-2) = %v, %v; want not found", found, err)
	}
}

func TestDiscover(t *testing.T) {
	tag := []TagFilter{{TagKey: "backupflow", TagValue: "nightly"}}
	all := []InstanceDetail{
		{InstanceId: "cmgo-run00001", InstanceName: "a", Status: 2, InstanceType: 1, Tags: tag},
		{InstanceId: "cmgo-chg00001", Status: 1, InstanceType: 1, Tags: tag},
		{InstanceId: "cmgo-iso00001", Status: -2, InstanceType: 1, Tags: tag},
		{InstanceId: "cmgo-oth00001", Status: 2, InstanceType: 1, Tags: []TagFilter{{TagKey: "team", TagValue: "db"}}},
	}
	var reqs []DescribeDBInstancesRequest
	_, c := newFake(t, map[string]func([]byte) any{
		"DescribeDBInstances": func(body []byte) any {
			var req DescribeDBInstancesRequest
			_ = json.Unmarshal(body, &req)
			reqs = append(reqs, req)
			lo := min(int(req.Offset), len(all))
			hi := min(lo+3, len(all))
			return DescribeDBInstancesResponse{TotalCount: uint64(len(all)), InstanceDetails: all[lo:hi]}
		},
		"DescribeTransparentDataEncryptionStatus": func([]byte) any {
			return map[string]any{"TransparentDataEncryptionStatus": "close"}
		},
	})
	got, err := New(c, Options{Region: "ap-guangzhou"}).Discover(context.Background(), "backupflow", "nightly")
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Instance{
		{Product: provider.MongoDB, Region: "ap-guangzhou", InstanceID: "cmgo-run00001", Name: "a", Eligible: true,
			Methods: []string{"logical", "physical"}, Kind: "local disk"},
		{Product: provider.MongoDB, Region: "ap-guangzhou", InstanceID: "cmgo-chg00001", Reason: "processing a change"},
		{Product: provider.MongoDB, Region: "ap-guangzhou", InstanceID: "cmgo-iso00001", Reason: "isolated"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover =\n%+v\nwant\n%+v", got, want)
	}
	if len(reqs) != 2 || reqs[0].InstanceType != 1 || !reflect.DeepEqual(reqs[0].Tags, tag) || reqs[1].Offset != 3 {
		t.Errorf("requests = %+v", reqs)
	}
}

// A create answer without the AsyncRequestId may still have started the
// backup: ambiguous (look up by remark, then retry), never permanent.
func TestCreateWithoutAsyncIDIsAmbiguous(t *testing.T) {
	_, c := newFake(t, map[string]func([]byte) any{
		"CreateBackupDBInstance": func([]byte) any { return map[string]any{} },
	})
	if _, err := New(c, Options{}).Start(context.Background(), spec("n1", "logical")); apierr.KindOf(err) != apierr.RetryAfterLookup {
		t.Errorf("err = %v (kind %v); want retry-after-lookup", err, apierr.KindOf(err))
	}
}
