package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/events"
	"github.com/backupflow/backupflow/pkg/event"
)

func cosRecord(eventName, region, key string) string {
	return `{"cos":{"cosBucket":{"name":"backups","appid":"1250000000","region":"` + region + `"},
	"cosObject":{"key":"` + key + `","size":10,"meta":{"etag":"\"abc\""},"vid":""}},
	"event":{"eventName":"` + eventName + `","eventTime":1700000000,"reqid":12}}`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    *event.Trigger
		wantErr error
	}{
		{
			name:    "scf timer",
			payload: `{"Type":"Timer","TriggerName":"t","Time":"2026-01-02T03:04:05Z","Message":"m"}`,
			want:    &event.Trigger{Kind: event.SCFTimer, Timer: &event.Timer{Platform: "scf", Name: "t", Message: "m", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		},
		{
			name:    "scf timer bad time",
			payload: `{"Type":"Timer","Time":"yesterday"}`,
			wantErr: event.ErrMalformed,
		},
		{
			name:    "eventbridge schedule",
			payload: `{"source":"aws.events","detail-type":"Scheduled Event","time":"2026-01-02T03:04:05Z","resources":["arn:aws:events:us-east-1:1:rule/nightly"],"detail":{}}`,
			want:    &event.Trigger{Kind: event.Schedule, Timer: &event.Timer{Platform: "aws", Name: "nightly", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		},
		{
			name:    "eventbridge other event",
			payload: `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`,
			wantErr: event.ErrMalformed,
		},
		{
			name:    "schedule input object",
			payload: ` {"targets":["cdb-c1nl9rpv"]} `,
			want:    &event.Trigger{Kind: event.Schedule, Timer: &event.Timer{Platform: "aws", Message: `{"targets":["cdb-c1nl9rpv"]}`}},
		},
		{
			name:    "scheduler input with the scheduled time",
			payload: `{"scheduledTime":"2026-03-14T18:00:00Z"}`,
			want:    &event.Trigger{Kind: event.Schedule, Timer: &event.Timer{Platform: "aws", Time: time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC)}},
		},
		{
			name:    "scheduler input with a selection and the scheduled time",
			payload: `{"targets":["cdb-c1nl9rpv"],"scheduledTime":"2026-03-14T18:00:00+08:00"}`,
			want: &event.Trigger{Kind: event.Schedule, Timer: &event.Timer{Platform: "aws", Message: `{"targets":["cdb-c1nl9rpv"]}`,
				Time: time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)}},
		},
		{name: "scheduler placeholder left in a rule's input", payload: `{"scheduledTime":"<aws.scheduler.scheduled-time>"}`, wantErr: event.ErrMalformed},
		{name: "scheduled time not a string", payload: `{"scheduledTime":1773511200}`, wantErr: event.ErrMalformed},
		{
			name:    "schedule input string",
			payload: `"nightly"`,
			want:    &event.Trigger{Kind: event.Schedule, Timer: &event.Timer{Platform: "aws", Message: "nightly"}},
		},
		{
			name:    "scf drain timer",
			payload: `{"Type":"Timer","TriggerName":"nightly-drain","Message":" Drain "}`,
			want:    &event.Trigger{Kind: event.SCFDrainTimer, Timer: &event.Timer{Platform: "scf", Name: "nightly-drain", Message: " Drain "}},
		},
		{
			name:    "a trigger named drain is not a drain timer",
			payload: `{"Type":"Timer","TriggerName":"drain-work","Message":""}`,
			want:    &event.Trigger{Kind: event.SCFTimer, Timer: &event.Timer{Platform: "scf", Name: "drain-work"}},
		},
		{name: "lower-case type is not a timer", payload: `{"type":"Timer"}`, wantErr: event.ErrMalformed},
		{name: "empty object", payload: `{}`, wantErr: event.ErrMalformed},
		{name: "hello world", payload: `{"hello":"world"}`, wantErr: event.ErrMalformed},
		{name: "lambda console default test event", payload: `{"key1":"value1","key2":"value2","key3":"value3"}`, wantErr: event.ErrMalformed},
		{name: "selection typo", payload: `{"target":["cdb-c1nl9rpv"]}`, wantErr: event.ErrMalformed},
		{name: "selection with an extra key", payload: `{"targets":["cdb-c1nl9rpv"],"all":true}`, wantErr: event.ErrMalformed},
		{name: "chat sample is not a trigger", payload: `{"method":"POST","path":"/slack","headers":{},"body":""}`, wantErr: event.ErrMalformed},
		{
			name:    "function url request",
			payload: `{"version":"2.0","rawPath":"/slack","requestContext":{"http":{"method":"POST"}},"body":"x"}`,
			want:    &event.Trigger{Kind: event.HTTPRequest},
		},
		{name: "api gateway request", payload: `{"httpMethod":"POST","path":"/","body":""}`, want: &event.Trigger{Kind: event.HTTPRequest}},
		{name: "empty", payload: ``, wantErr: event.ErrMalformed},
		{name: "not json", payload: `{"Type":`, wantErr: event.ErrMalformed},
		{name: "array", payload: `[1,2]`, wantErr: event.ErrMalformed},
		{name: "null", payload: `null`, wantErr: event.ErrMalformed},
		{name: "records not a list", payload: `{"Records":{}}`, wantErr: event.ErrMalformed},
		{name: "records empty", payload: `{"Records":[]}`, wantErr: event.ErrMalformed},
		{name: "too large", payload: `"` + strings.Repeat("a", event.MaxPayloadBytes) + `"`, wantErr: event.ErrTooLarge},
		{
			name:    "cos remove is skipped",
			payload: `{"Records":[` + cosRecord("cos:ObjectRemove:Delete", "gz", "/1250000000/backups/a.bak") + `]}`,
			want:    &event.Trigger{Kind: event.COSObjects, Skipped: []event.Skip{{Index: 0, Reason: `cos event "cos:ObjectRemove:Delete" is not an object creation`}}},
		},
		{
			name:    "cos wildcard event name, unknown region, odd prefix, bad escape",
			payload: `{"Records":[` + cosRecord("cos:ObjectCreated:*", "zz", "/999/other/x/100%.bak") + `]}`,
			want: &event.Trigger{Kind: event.COSObjects, Objects: []event.Object{{
				Platform: "cos", Bucket: "backups-1250000000", AppID: "1250000000", Region: "zz", Key: "x/100%.bak",
				ETag: "abc", EventName: "cos:ObjectCreated:*", Size: 10, Time: time.Unix(1700000000, 0).UTC(), RequestID: "12",
			}}},
		},
		{
			name: "cos string numbers, long region, bucket already suffixed",
			payload: `{"Records":[{"cos":{"cosBucket":{"name":"backups-1250000000","appid":1250000000,"region":"ap-chengdu"},
				"cosObject":{"key":"/1250000000/backups-1250000000/%E8%AE%A2%E5%8D%95.bak","size":"7","meta":{"x-cos-request-id":"rq"}}},
				"event":{"eventName":"cos:ObjectCreated:Copy","eventTime":"1700000000"}}]}`,
			want: &event.Trigger{Kind: event.COSObjects, Objects: []event.Object{{
				Platform: "cos", Bucket: "backups-1250000000", AppID: "1250000000", Region: "ap-chengdu", Key: "订单.bak",
				EventName: "cos:ObjectCreated:Copy", Size: 7, Time: time.Unix(1700000000, 0).UTC(), RequestID: "rq",
			}}},
		},
		{
			name: "bad cos record does not fail the batch",
			payload: `{"Records":[{"cos":{"cosObject":{"size":"big"}},"event":{"eventName":"cos:ObjectCreated:Put"}},` +
				cosRecord("cos:ObjectCreated:Put", "cd", "/1250000000/backups/b.bak") + `]}`,
			want: &event.Trigger{
				Kind: event.COSObjects,
				Objects: []event.Object{{
					Platform: "cos", Bucket: "backups-1250000000", AppID: "1250000000", Region: "ap-chengdu", Key: "b.bak",
					ETag: "abc", EventName: "cos:ObjectCreated:Put", Size: 10, Time: time.Unix(1700000000, 0).UTC(), RequestID: "12",
				}},
				RecordErrors: []error{errAny},
			},
		},
		{
			name: "cmq owner string and tag list, owner number and tag string",
			payload: `{"Records":[{"CMQ":{"topicOwner":"120","msgId":"1","msgBody":"a","msgTag":["x","y"]}},
				{"CMQ":{"topicOwner":120,"msgId":2,"msgBody":"b","msgTag":"x, y"}}]}`,
			want: &event.Trigger{Kind: event.CMQMessages, Messages: []event.Message{
				{Platform: "cmq", ID: "1", Body: []byte("a"), Tags: []string{"x", "y"}},
				{Platform: "cmq", ID: "2", Body: []byte("b"), Tags: []string{"x", "y"}},
			}},
		},
		{
			name:    "cmq bad body keeps id",
			payload: `{"Records":[{"CMQ":{"msgId":"7","msgBody":{"not":"a string"}}}]}`,
			want:    &event.Trigger{Kind: event.CMQMessages, Messages: []event.Message{{Platform: "cmq", ID: "7", Err: errAny}}},
		},
		{
			name: "sqs good, no id, bad count",
			payload: `{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"x","attributes":{"ApproximateReceiveCount":"3"}},
				{"eventSource":"aws:sqs","body":"y"},
				{"eventSource":"aws:sqs","messageId":"m3","body":"","attributes":{"ApproximateReceiveCount":"many"}}]}`,
			want: &event.Trigger{Kind: event.SQSMessages, Messages: []event.Message{
				{Platform: "sqs", ID: "m1", Body: []byte("x"), Receives: 3},
				{Platform: "sqs", Err: errAny},
				{Platform: "sqs", ID: "m3", Body: []byte{}},
			}},
		},
		{
			name: "s3 created and removed",
			payload: `{"Records":[{"eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2026-01-02T03:04:05.123Z","eventName":"ObjectCreated:CompleteMultipartUpload",
				"responseElements":{"x-amz-request-id":"R"},"s3":{"bucket":{"name":"b"},"object":{"key":"a%2Fb+c.bak","size":5,"eTag":"\"e\"","versionId":"v"}}},
				{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
			want: &event.Trigger{
				Kind: event.S3Objects,
				Objects: []event.Object{{
					Platform: "s3", Bucket: "b", Region: "eu-west-1", Key: "a/b c.bak", ETag: "e", VersionID: "v",
					EventName: "ObjectCreated:CompleteMultipartUpload", Size: 5, Time: time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC), RequestID: "R",
				}},
				Skipped: []event.Skip{{Index: 1, Reason: `s3 event "ObjectRemoved:Delete" is not an object creation`}},
			},
		},
		{
			name:    "s3 bad key escape",
			payload: `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"100%"}}}]}`,
			want:    &event.Trigger{Kind: event.S3Objects, RecordErrors: []error{errAny}},
		},
		{
			name:    "unknown and non-object records only",
			payload: `{"Records":[{"Ckafka":{"msgBody":"x"}},42]}`,
			wantErr: event.ErrMalformed,
		},
		{
			name:    "a record of another source is a bad record of the batch",
			payload: `{"Records":[42,{"eventSource":"aws:sqs","messageId":"m1","body":"x"},{"CMQ":{"msgId":"1","msgBody":"a"}},{"Ckafka":{}}]}`,
			want:    &event.Trigger{Kind: event.SQSMessages, Messages: []event.Message{{Platform: "sqs", ID: "m1", Body: []byte("x")}}, RecordErrors: []error{errAny, errAny, errAny}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.Decode([]byte(tt.payload))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decode() error = %v; want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode() error = %v", err)
			}
			checkErrs(t, "RecordErrors", got.RecordErrors, tt.want.RecordErrors)
			for i := range got.Messages {
				if i < len(tt.want.Messages) {
					checkErrs(t, "Messages.Err", []error{got.Messages[i].Err}, []error{tt.want.Messages[i].Err})
					got.Messages[i].Err, tt.want.Messages[i].Err = nil, nil
				}
			}
			got.RecordErrors, tt.want.RecordErrors = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tt.want)
				t.Errorf("Decode() =\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// errAny in a want list stands for any error that wraps ErrMalformed.
var errAny = errors.New("any malformed error")

func checkErrs(t *testing.T, what string, got, want []error) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v; want %d errors", what, got, len(want))
		return
	}
	for i := range got {
		switch {
		case want[i] == nil && got[i] != nil:
			t.Errorf("%s[%d] = %v; want nil", what, i, got[i])
		case want[i] != nil && !errors.Is(got[i], event.ErrMalformed):
			t.Errorf("%s[%d] = %v; want an error wrapping ErrMalformed", what, i, got[i])
		}
	}
}

func TestNewBatchResponse(t *testing.T) {
	tests := []struct {
		ids  []string
		want string
	}{
		{nil, `{"batchItemFailures":[]}`},
		{[]string{"a", "b"}, `{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(event.NewBatchResponse(tt.ids...))
		if err != nil || string(b) != tt.want {
			t.Errorf("NewBatchResponse(%q) = %s, %v; want %s", tt.ids, b, err, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, err := fs.Glob(events.FS, "*/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(events.FS, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Records":[{"CMQ":{"msgId":1,"msgBody":"x","msgTag":["a"]}},{"cos":{}},null]}`))
	for _, s := range []string{`{}`, `{"hello":"world"}`, `{"key1":"value1","key2":"value2","key3":"value3"}`,
		`{"target":["x"]}`, `{"targets":["x"],"y":1}`, `{"version":"2.0","rawPath":"/","requestContext":{}}`, `"drain"`} {
		f.Add([]byte(s))
	}
	all := []event.Kind{event.SCFTimer, event.SCFDrainTimer, event.Schedule, event.CMQMessages, event.SQSMessages,
		event.COSObjects, event.S3Objects, event.HTTPRequest}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tr, err := event.Decode(payload)
		// DecodeFor agrees with Decode: it refuses what Decode cannot read
		// as a trigger and, of what it can, exactly the kinds not accepted.
		if _, rerr := event.DecodeFor(payload); rerr == nil {
			t.Fatalf("DecodeFor(%q) with nothing accepted accepted it", payload)
		}
		if tr != nil {
			if _, rerr := event.DecodeFor(payload, all...); rerr != nil {
				t.Fatalf("DecodeFor(%q, every kind) = %v; Decode read it as %s", payload, rerr, tr.Kind)
			}
		}
		if err != nil {
			if tr != nil {
				t.Fatalf("Decode() = %+v, %v; want nil trigger with an error", tr, err)
			}
			return
		}
		kinds := 0
		if tr.Timer != nil {
			kinds++
		}
		if len(tr.Objects)+len(tr.Skipped)+len(tr.Messages)+len(tr.RecordErrors) > 0 {
			kinds++
		}
		if want := 1; tr.Kind == event.HTTPRequest && kinds != 0 || tr.Kind != event.HTTPRequest && kinds != want {
			t.Fatalf("Decode(%q) = %+v; want exactly one of a timer or records (none for a request)", payload, tr)
		}
		switch tr.Kind {
		case event.SCFTimer, event.SCFDrainTimer, event.Schedule:
			if tr.Timer == nil {
				t.Fatalf("Decode(%q) kind %s without a timer", payload, tr.Kind)
			}
		case event.CMQMessages, event.SQSMessages, event.COSObjects, event.S3Objects:
			if tr.Timer != nil {
				t.Fatalf("Decode(%q) kind %s with a timer", payload, tr.Kind)
			}
		case event.HTTPRequest:
		default:
			t.Fatalf("Decode(%q) = kind %q; want a known kind", payload, tr.Kind)
		}
		for _, m := range tr.Messages {
			if m.Err == nil && m.ID == "" {
				t.Fatalf("Decode(%q) message %+v has no ID and no error", payload, m)
			}
			if m.Err != nil && len(m.Body) > 0 {
				t.Fatalf("Decode(%q) message %+v has an error and a body", payload, m)
			}
		}
		for _, o := range tr.Objects {
			if o.Bucket == "" || o.Key == "" {
				t.Fatalf("Decode(%q) object %+v lacks bucket or key", payload, o)
			}
		}
		if bytes.Contains(payload, []byte(`"Records"`)) && tr.Timer != nil && !json.Valid(payload) {
			t.Fatalf("Decode accepted invalid JSON %q", payload)
		}
	})
}

func TestDecodeFor(t *testing.T) {
	tests := []struct {
		name, payload string
		accepts       []event.Kind
		wantErr       string // "" accepts
	}{
		{"accepted", `{"Type":"Timer","Message":""}`, []event.Kind{event.SCFTimer}, ""},
		{"drain timer at a nightly-only function", `{"Type":"Timer","Message":"drain"}`, []event.Kind{event.SCFTimer},
			"got scf-drain-timer event; this function accepts scf-timer"},
		{"nightly timer at a drain-only function", `{"Type":"Timer","Message":""}`, []event.Kind{event.SCFDrainTimer, event.SQSMessages},
			"got scf-timer event; this function accepts scf-drain-timer, sqs-messages"},
		{"unknown object names its keys, not its values", `{"key1":"value1","key2":"value2","key3":"value3"}`, []event.Kind{event.Schedule},
			`got a JSON object with keys "key1", "key2", "key3"; this function accepts eventbridge-schedule`},
		{"empty object", `{}`, []event.Kind{event.Schedule}, "got an empty JSON object"},
		{"request at an event function", `{"version":"2.0","rawPath":"/","requestContext":{}}`, []event.Kind{event.COSObjects},
			"got http-request event; this function accepts cos-objects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := event.DecodeFor([]byte(tt.payload), tt.accepts...)
			if tt.wantErr == "" {
				if err != nil || tr == nil {
					t.Fatalf("DecodeFor() = %v, %v; want accepted", tr, err)
				}
				return
			}
			if tr != nil || !errors.Is(err, event.ErrRejected) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DecodeFor() = %v, %v; want a rejection containing %q", tr, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "value1") {
				t.Errorf("error echoes a value: %v", err)
			}
		})
	}
}
