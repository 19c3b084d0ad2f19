package apierr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
)

// seedCodes reads every error code the seed documents list.
func seedCodes(t *testing.T) [][3]string {
	t.Helper()
	f, err := os.Open("testdata/seed_codes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][3]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Fields(line)
		if len(p) != 3 {
			t.Fatalf("bad line %q", line)
		}
		out = append(out, [3]string{p[0], p[1], p[2]})
	}
	if len(out) < 50 {
		t.Fatalf("only %d seed codes read", len(out))
	}
	return out
}

func TestEverySeedCodeIsInTheTable(t *testing.T) {
	for _, c := range seedCodes(t) {
		if _, ok := tencentCodes[c[2]]; !ok {
			t.Errorf("%s %s: code %s is not an exact entry of the table", c[0], c[1], c[2])
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		cloud, code string
		want        Kind
	}{
		// Throttling and busy instances: retry later.
		{Tencent, "RequestLimitExceeded", RetryLater},
		{Tencent, "RequestLimitExceeded.UinLimitExceeded", RetryLater},
		{Tencent, "LimitExceeded.TooManyRequests", RetryLater},
		{Tencent, "OperationDenied.ActionInProcess", RetryLater},
		{Tencent, "FailedOperation.StatusConflict", RetryLater},
		{Tencent, "ResourceUnavailable.InstanceStatusInvalid", RetryLater},
		{Tencent, "InvalidParameterValue.StatusAbnormal", RetryLater},
		{Tencent, "FailedOperation.MigrationLockError", RetryLater},
		{Tencent, "OperationDenied.WrongStatus", RetryLater},
		{Tencent, "FailedOperation.CosError", RetryLater},
		// Ambiguous: look up, then a few retries.
		{Tencent, "InternalError", RetryAfterLookup},
		{Tencent, "InternalError.DesError", RetryAfterLookup},
		{Tencent, "CdbError", RetryAfterLookup},
		{Tencent, "FailedOperation.DBError", RetryAfterLookup},
		{Tencent, "ClientError.NetworkError", RetryAfterLookup},
		// Permanent.
		{Tencent, "AuthFailure.SignatureFailure", Permanent},
		{Tencent, "InvalidParameter.InstanceNotFound", Permanent},
		{Tencent, "ResourceNotFound.InstanceNotFound", Permanent},
		{Tencent, "InvalidParameterValue.NotFoundInstance", Permanent},
		{Tencent, "OperationDenied.UserHasNoStrategy", Permanent},
		{Tencent, "LimitExceeded.TooManyDB", Permanent},
		{Tencent, "OverQuota", Permanent},
		// Prefix fallback for codes not in the table.
		{Tencent, "InternalError.SomethingNew", RetryAfterLookup},
		{Tencent, "ResourceNotFound.SomethingNew", Permanent},
		{Tencent, "RequestLimitExceeded.SomethingNew", RetryLater},
		{Tencent, "TotallyUnknown", Permanent},
		// Issue 13 item 7: transient families are never permanent, the
		// one recovery-type mismatch always is.
		{Tencent, "InternalError.NewFault", RetryAfterLookup},
		{Tencent, "CdbError.BackupFailed", RetryAfterLookup},
		{Tencent, "ServiceUnavailable.Maintenance", RetryLater},
		{Tencent, "ResourceUnavailable.BackupMigrationRecoveryTypeErr", Permanent},
		{Tencent, "ClientError.ParseJsonError", RetryAfterLookup},
		// Huawei.
		{Huawei, "APIGW.0308", RetryLater},
		{Huawei, "DBS.200011", RetryLater},
		{Huawei, "DBS.108000", RetryAfterLookup},
		{Huawei, "DBS.201209", Permanent},
		{Huawei, "APIGW.0301", Permanent},
		// CMQ.
		{CMQ, "4420", RetryLater},
		{CMQ, "6000", RetryAfterLookup},
		{CMQ, "4100", Permanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.cloud, tt.code); got != tt.want {
			t.Errorf("Classify(%s, %q) = %v; want %v", tt.cloud, tt.code, got, tt.want)
		}
	}
}

func TestClassifyHTTP(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   Kind
	}{
		{"DBS.999999", 429, RetryLater},
		{"DBS.999999", 409, RetryLater},
		{"DBS.999999", 503, RetryLater},
		{"DBS.999999", 502, RetryAfterLookup},
		{"DBS.999999", 400, Permanent},
		{"DBS.201209", 409, Permanent}, // a known code wins over its status
	}
	for _, tt := range tests {
		if got := ClassifyHTTP(Huawei, tt.code, tt.status); got != tt.want {
			t.Errorf("ClassifyHTTP(%q, %d) = %v; want %v", tt.code, tt.status, got, tt.want)
		}
	}
	// The Tencent SDK names a gateway's page ClientError.*: its status
	// decides. The API's own codes keep their kind.
	for _, tt := range []struct {
		cloud, code string
		status      int
		want        Kind
	}{
		{Tencent, "ClientError.ParseJsonError", 429, RetryLater},
		{Tencent, "ClientError.ParseJsonError", 503, RetryLater},
		{Tencent, "ClientError.ParseJsonError", 502, RetryAfterLookup},
		{Tencent, "ClientError.ParseJsonError", 200, RetryAfterLookup},
		{Tencent, "ClientError.HttpStatusCodeError", 429, RetryLater},
		{Tencent, "ClientError.NetworkError", 0, RetryAfterLookup},
		{Tencent, "ClientError.CredentialError", 503, Permanent},
		{Tencent, "AuthFailure.SignatureFailure", 200, Permanent},
		{CMQ, "HTTP429", 429, RetryLater},
		{CMQ, "HTTP503", 503, RetryLater},
		{CMQ, "HTTP504", 504, RetryAfterLookup},
		{CMQ, "HTTP403", 403, Permanent},
	} {
		if got := ClassifyHTTP(tt.cloud, tt.code, tt.status); got != tt.want {
			t.Errorf("ClassifyHTTP(%s, %q, %d) = %v; want %v", tt.cloud, tt.code, tt.status, got, tt.want)
		}
	}
}

func TestKindOfAndReachability(t *testing.T) {
	cause := errors.New("sdk said so")
	ae := New(Tencent, "cdb", "CreateBackup", "OperationDenied.ActionInProcess", "busy", "req-1", 0, cause)
	wrapped := fmt.Errorf("tcmysql: create backup cdb-x: %w", ae)
	var got *Error
	if !errors.As(wrapped, &got) || got.RequestID != "req-1" || got.Code != "OperationDenied.ActionInProcess" {
		t.Fatalf("errors.As lost the cloud error: %+v", got)
	}
	if !errors.Is(wrapped, cause) {
		t.Errorf("the SDK's error is not reachable")
	}
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"cloud error", wrapped, RetryLater},
		{"invalid input", Invalid("bad id %q", "x"), Permanent},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), RetryAfterLookup},
		{"transport", &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}, RetryAfterLookup},
		{"plain", errors.New("something"), Permanent},
		{"nil", nil, Permanent},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
	if Code(wrapped) != "OperationDenied.ActionInProcess" || Code(cause) != "" {
		t.Errorf("Code() did not find the code")
	}
	if s := ae.Error(); !strings.Contains(s, "req-1") || !strings.Contains(s, "busy") {
		t.Errorf("Error() = %q; want code, message and request id", s)
	}
}

func TestKnownCodesCoverTheSeeds(t *testing.T) {
	known := map[string]bool{}
	for _, c := range KnownCodes(Tencent) {
		known[c] = true
	}
	for _, c := range seedCodes(t) {
		if !known[c[2]] {
			t.Errorf("KnownCodes(Tencent) lacks seed code %s", c[2])
		}
	}
	if len(KnownCodes(Huawei)) == 0 || len(KnownCodes(CMQ)) == 0 {
		t.Errorf("Huawei or CMQ codes missing")
	}
}
