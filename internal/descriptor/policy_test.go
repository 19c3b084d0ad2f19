package descriptor

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// use names one entry point of an adapter a function drives.
type use struct {
	pkg   string // package directory, relative to the repo root
	entry string // "Recv.Method" or "func"
}

// Package directories and the CAM service of their "call" actions ("" =
// the package's `service` constant; the CMQ data plane is authorized as tdmq;
// "sqs." and "s3.": AWS operations, named for IAM by iamAction).
var scannedPackages = map[string]string{
	"pkg/provider/tcmysql":     "",
	"pkg/provider/tcsqlserver": "",
	"pkg/provider/tcmongodb":   "",
	"pkg/queue/cmqqueue":       "tdmq",
	"pkg/queue/sqsqueue":       "sqs.",
	"pkg/objstore/cosstore":    "-",
	"pkg/objstore/s3store":     "s3.",
}

func provider(pkg string, entries ...string) []use {
	var out []use
	for _, e := range entries {
		out = append(out, use{"pkg/provider/" + pkg, e})
	}
	return out
}

func uses(groups ...[]use) []use {
	var out []use
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// What each function drives on Tencent Cloud, read from pkg/function and
// pkg/flow (this table is the one judgment the policy test rests on):
//   - create-backup: the nightly run discovers and hands off (Discover, Send);
//     the retention step it queues lists and deletes backups (Backups,
//     Delete) of the products whose adapters implement them;
//     the drain receives create steps (Receive, Delete) and runs them: Find
//     then Start, for backups and, for chat imports and retried uploads,
//     imports (Presign); retries and the first poll are sent on (Send); the
//     ledger is read, written and listed (run summaries).
//   - start-migration: an upload is looked at (Head, ReadMagic), presigned
//     and imported (the import branch of tcsqlserver: migrationByName,
//     startImport), then handed to the poll queue; the ledger is read and
//     written (uploads have no run, so no listing).
//   - poll-status: the drain receives poll steps and asks for their Status;
//     outcomes are recorded in the ledger, run summaries list it.
//   - chatops: a command is sent to the work queue; the replay guard and the
//     status answer use the ledger; `retention <instance>` lists backups
//     (read-only) to preview what retention would expire; `plan` discovers
//     the fleet as the nightly run does (read-only) and reads the ledger's
//     duration history.
var tencentUses = map[string][]use{
	"create-backup": uses(
		provider("tcmysql", "Provider.Discover", "Provider.Find", "Provider.Start", "Provider.Backups", "Provider.Delete"),
		provider("tcsqlserver", "Provider.Discover", "Provider.Find", "Provider.Start", "Provider.Backups", "Provider.Delete"),
		provider("tcmongodb", "Provider.Discover", "Provider.Find", "Provider.Start"),
		cmq("cmqDriver.Send", "cmqDriver.Receive", "cmqDriver.Delete"),
		cos("Store.Presign", "Store.Get", "Store.Put", "Store.List", "Store.Versioning"),
	),
	"start-migration": uses(
		provider("tcsqlserver", "Provider.migrationByName", "Provider.startImport"),
		cmq("cmqDriver.Send"),
		cos("Store.Head", "Store.ReadMagic", "Store.Presign", "Store.Get", "Store.Put", "Store.Versioning"),
	),
	"poll-status": uses(
		provider("tcmysql", "Provider.Status"),
		provider("tcsqlserver", "Provider.Status"),
		provider("tcmongodb", "Provider.Status"),
		cmq("cmqDriver.Send", "cmqDriver.Receive", "cmqDriver.Delete"),
		cos("Store.Get", "Store.Put", "Store.List", "Store.Versioning"),
	),
	"chatops": uses(
		provider("tcmysql", "Provider.Discover", "Provider.Backups"),
		provider("tcsqlserver", "Provider.Discover", "Provider.Backups"),
		provider("tcmongodb", "Provider.Discover"),
		cmq("cmqDriver.Send"),
		cos("Store.Get", "Store.Put", "Store.Versioning"),
	),
}

// The same on AWS. The databases are still Tencent's (and Huawei's), with
// keys from parameters, so only SQS and S3 are authorized by IAM. Queue
// consumption is the event source mapping's (see sqsPlatformActions).
var awsUses = map[string][]use{
	"create-backup":   uses(sqs("sqsDriver.Send"), s3("Store.Presign", "Store.Get", "Store.Put", "Store.List")),
	"start-migration": uses(sqs("sqsDriver.Send"), s3("Store.Head", "Store.ReadMagic", "Store.Presign", "Store.Get", "Store.Put")),
	"poll-status":     uses(sqs("sqsDriver.Send"), s3("Store.Get", "Store.Put", "Store.List")),
	"chatops":         uses(sqs("sqsDriver.Send"), s3("Store.Get", "Store.Put")),
}

// Actions the code contains that no deployed function reaches, with why.
// The test checks that each is really in the code (no stale entries) and
// granted nowhere.
var unreachable = map[string]string{
	"tdmq:SendMessage":      "data-plane send is the fallback when no API 3.0 client is given; the cmq:// opener always builds one from the environment, so SendCmqMsg is used",
	"name/cos:DeleteObject": "only Ledger.Delete, which no flow calls",
	"sqs:GetQueueUrl":       "template.yaml gives full queue URLs (sqs://host/account/name), so the driver never looks one up",
	"s3:DeleteObject":       "only Ledger.Delete, which no flow calls",
}

// s3IAM maps S3 operations to the IAM action that authorizes them.
var s3IAM = map[string]string{
	"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject",
	"DeleteObject": "s3:DeleteObject", "ListObjectsV2": "s3:ListBucket",
}

// sqsPlatformActions are what Lambda's SQS event source mapping calls with
// the function's role.
var sqsPlatformActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

func cmq(entries ...string) []use {
	return prefixed("pkg/queue/cmqqueue", entries)
}
func cos(entries ...string) []use { return prefixed("pkg/objstore/cosstore", entries) }
func s3(entries ...string) []use  { return prefixed("pkg/objstore/s3store", entries) }
func sqs(entries ...string) []use { return prefixed("pkg/queue/sqsqueue", entries) }

func prefixed(pkg string, entries []string) []use {
	out := make([]use, len(entries))
	for i, e := range entries {
		out[i] = use{pkg, e}
	}
	return out
}

// iamAction maps a scanned action to its IAM name ("" for Tencent ones).
func iamAction(a string) string {
	switch {
	case strings.HasPrefix(a, "s3."):
		return s3IAM[strings.TrimPrefix(a, "s3.")]
	case strings.HasPrefix(a, "sqs."):
		return "sqs:" + strings.TrimPrefix(a, "sqs.")
	}
	return ""
}

func isAWS(a string) bool { return strings.HasPrefix(a, "s3.") || strings.HasPrefix(a, "sqs.") }

type scans map[string]*scanned

func scanAll(t *testing.T) scans {
	t.Helper()
	out := scans{}
	for dir, svc := range scannedPackages {
		if svc == "-" {
			svc = "none"
		}
		out[dir] = scanPackage(t, dir, svc)
	}
	return out
}

// expected returns the Tencent (CAM) or AWS (IAM) actions a function's
// entries reach, less those listed in unreachable.
func (sc scans) expected(t *testing.T, us []use, aws bool) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, u := range us {
		for a := range sc[u.pkg].reach(t, u.entry) {
			switch {
			case aws && isAWS(a):
				if m := iamAction(a); m != "" {
					out[m] = true
				} else {
					t.Errorf("%s %s: operation %s has no IAM mapping (add it to s3IAM)", u.pkg, u.entry, a)
				}
			case !aws && !isAWS(a) && !strings.HasPrefix(a, "none:"):
				out[a] = true
			}
		}
	}
	for a := range unreachable {
		delete(out, a)
	}
	return out
}

// camPolicy is a Tencent CAM policy document.
type camPolicy struct {
	Version   string `json:"version"`
	Statement []struct {
		Effect   string          `json:"effect"`
		Action   []string        `json:"action"`
		Resource json.RawMessage `json:"resource"`
	} `json:"statement"`
}

func loadCAM(t *testing.T, fn string) (camPolicy, map[string]bool, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "policies", "cam", fn+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var p camPolicy
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("policies/cam/%s.json: %v", fn, err)
	}
	actions := map[string]bool{}
	var resources []string
	for i, st := range p.Statement {
		if st.Effect != "allow" {
			t.Errorf("policies/cam/%s.json statement %d: effect %q, want allow", fn, i, st.Effect)
		}
		for _, a := range st.Action {
			actions[a] = true
		}
		var rs []string
		if json.Unmarshal(st.Resource, &rs) != nil {
			var one string
			if err := json.Unmarshal(st.Resource, &one); err != nil {
				t.Errorf("policies/cam/%s.json statement %d: resource: %v", fn, i, err)
			}
			rs = []string{one}
		}
		resources = append(resources, rs...)
	}
	if p.Version != "2.0" {
		t.Errorf("policies/cam/%s.json: version %q, want 2.0", fn, p.Version)
	}
	return p, actions, resources
}

func diff(t *testing.T, what string, got, want map[string]bool) {
	t.Helper()
	for _, a := range sortedKeys(want) {
		if !got[a] {
			t.Errorf("%s: missing %s (the code calls it)", what, a)
		}
	}
	for _, a := range sortedKeys(got) {
		if !want[a] {
			t.Errorf("%s: grants %s, which the code does not call", what, a)
		}
	}
}

// TestCAMPoliciesMatchCode: each function's CAM policy lists exactly the
// Tencent actions its code paths call, and every Tencent action anywhere in
// the adapters is granted to some function or explained in unreachable.
func TestCAMPoliciesMatchCode(t *testing.T) {
	sc := scanAll(t)
	granted := map[string]bool{}
	sls := loadServerless(t)
	queues := map[string]bool{}
	for _, q := range sls.Ext.Queues {
		queues[q.Name] = true
	}
	queueRes := regexp.MustCompile(`^qcs::tdmq:[a-z0-9-]+:uin/[0-9]+:queue/(.+)$`)
	for _, fn := range functionDirs(t) {
		_, got, resources := loadCAM(t, fn)
		diff(t, "policies/cam/"+fn+".json", got, sc.expected(t, tencentUses[fn], false))
		for a := range got {
			granted[a] = true
		}
		for _, r := range resources {
			if m := queueRes.FindStringSubmatch(r); m != nil && !queues[m[1]] {
				t.Errorf("policies/cam/%s.json: queue %s is not one of serverless.yml's x-backupflow queues", fn, m[1])
			}
		}
	}
	for _, dir := range sortedKeys(sc) {
		for _, a := range sortedKeys(sc[dir].all()) {
			if isAWS(a) || strings.HasPrefix(a, "none:") {
				continue
			}
			if _, why := unreachable[a]; why && granted[a] {
				t.Errorf("%s is listed as unreachable but granted", a)
			}
			if _, why := unreachable[a]; !why && !granted[a] {
				t.Errorf("%s calls %s, which no CAM policy grants (grant it or explain it in unreachable)", dir, a)
			}
		}
	}
	checkUnreachableExist(t, sc)
}

func checkUnreachableExist(t *testing.T, sc scans) {
	t.Helper()
	all := map[string]bool{}
	for _, s := range sc {
		for a := range s.all() {
			all[a] = true
			if m := iamAction(a); m != "" {
				all[m] = true
			}
		}
	}
	for a := range unreachable {
		if !all[a] {
			t.Errorf("unreachable lists %s, which the code no longer contains", a)
		}
	}
}

// TestIAMStatementsMatchCode: each function's inline IAM statements in
// template.yaml allow exactly the SQS and S3 actions its code calls, plus
// what its SQS event source needs.
func TestIAMStatementsMatchCode(t *testing.T) {
	sc := scanAll(t)
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	granted := map[string]bool{}
	for _, fn := range functionDirs(t) {
		id := ids[fn]
		want := sc.expected(t, awsUses[fn], true)
		for _, e := range sam.Events(id) {
			if e["Type"] == "SQS" {
				for _, a := range sqsPlatformActions {
					want[a] = true
				}
			}
		}
		sts, err := sam.Statements(id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, st := range sts {
			if st.Effect != "Allow" {
				t.Errorf("%s: statement %s: effect %q", id, st.Sid, st.Effect)
			}
			for _, a := range st.Action {
				got[a] = true
				granted[a] = true
			}
			for _, r := range st.Resource {
				if r == "*" {
					t.Errorf("%s: statement %s allows every resource", id, st.Sid)
				}
			}
		}
		diff(t, "template.yaml "+id, got, want)
	}
	for _, dir := range sortedKeys(sc) {
		for _, a := range sortedKeys(sc[dir].all()) {
			m := iamAction(a)
			if m == "" {
				continue
			}
			if _, why := unreachable[m]; why && granted[m] {
				t.Errorf("%s is listed as unreachable but granted", m)
			}
			if _, why := unreachable[m]; !why && !granted[m] {
				t.Errorf("%s calls %s (%s), which no IAM statement grants", dir, a, m)
			}
		}
	}
	checkUnreachableExist(t, sc)
}

// TestCapabilityPackagesLinked: every package a capability table names is
// really linked into that function's binary on that platform, so the
// tables cannot credit a function with an adapter it does not have.
func TestCapabilityPackagesLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/backupflow/backupflow/"
	for _, plat := range []struct {
		tags string
		uses map[string][]use
	}{{"scf", tencentUses}, {"lambda.norpc", awsUses}} {
		for _, fn := range functionDirs(t) {
			cmd := exec.Command("go", "list", "-deps", "-tags", plat.tags, "./functions/"+fn)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", fn, err)
			}
			deps := map[string]bool{}
			for _, l := range strings.Fields(string(out)) {
				deps[l] = true
			}
			for _, u := range plat.uses[fn] {
				if !deps[module+u.pkg] {
					t.Errorf("%s (%s): %s is not linked in", fn, plat.tags, u.pkg)
				}
			}
		}
	}
}

// TestPolicyDocs prints nothing on success; it checks that the IAM
// statements shipped as JSON for people who deploy by hand agree with
// template.yaml.
func TestIAMJSONMatchesTemplate(t *testing.T) {
	sam := loadSAM(t)
	ids := samFunctions(t, sam)
	for _, fn := range functionDirs(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, "policies", "iam", fn+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version   string
			Statement []struct {
				Sid    string
				Effect string
				Action []string
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("policies/iam/%s.json: %v", fn, err)
		}
		sts, err := sam.Statements(ids[fn])
		if err != nil {
			t.Fatal(err)
		}
		render := func(sid, effect string, actions []string) string {
			return fmt.Sprintf("%s/%s/%s", sid, effect, strings.Join(actions, ","))
		}
		var got, want []string
		for _, st := range doc.Statement {
			got = append(got, render(st.Sid, st.Effect, st.Action))
		}
		for _, st := range sts {
			want = append(want, render(st.Sid, st.Effect, st.Action))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("policies/iam/%s.json statements\n%s\nwant (template.yaml)\n%s", fn, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
