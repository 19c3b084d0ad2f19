package cmqemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/clocktest"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue/cmqsign"
)

const (
	testID  = "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"
	testKey = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
	host    = "cmq-gz.public.tencenttdmq.com"
)

type answer struct {
	Code            int    `json:"code"`
	Message         string `json:"message"`
	RequestID       string `json:"requestId"`
	ClientRequestID int64  `json:"clientRequestId"`
	MsgID           string `json:"msgId"`
	MsgBody         string `json:"msgBody"`
	ReceiptHandle   string `json:"receiptHandle"`
	DequeueCount    int    `json:"dequeueCount"`
	NextVisibleTime int64  `json:"nextVisibleTime"`
	MsgList         []struct {
		MsgID string `json:"msgId"`
	} `json:"msgList"`
	MsgInfoList []delivery `json:"msgInfoList"`
	ErrorList   []struct {
		Code          int    `json:"code"`
		ReceiptHandle string `json:"receiptHandle"`
	} `json:"errorList"`
}

type env struct {
	t     *testing.T
	clock *clocktest.Clock
	b     *Broker
}

func newEnv(t *testing.T, o Options) *env {
	clock := clocktest.New(time.Unix(1_767_225_600, 0))
	o.SecretID, o.SecretKey, o.Now = testID, testKey, clock.Now
	b := New(o)
	if err := b.CreateQueue("test1"); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clock, b: b}
}

// sign completes p with the common parameters and a signature.
func sign(method, path string, p url.Values) url.Values {
	for k, v := range map[string]string{"Timestamp": "1534154812", "Nonce": "42", "SecretId": testID} {
		if _, ok := p[k]; !ok {
			p.Set(k, v)
		}
	}
	p.Set("Signature", cmqsign.Sign(method, host, path, p, testKey))
	return p
}

func (e *env) raw(method, path string, p url.Values) answer {
	e.t.Helper()
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, "http://"+host+path+"?"+p.Encode(), nil)
	} else {
		r = httptest.NewRequest(method, "http://"+host+path, strings.NewReader(p.Encode()))
		r.Header.Set("Content-Type", "*/*; charset=utf-8") // the Java SDK's
	}
	w := httptest.NewRecorder()
	e.b.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		e.t.Fatalf("HTTP %d; want 200 for every API outcome", w.Code)
	}
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		e.t.Fatalf("answer %q is not JSON: %v", w.Body, err)
	}
	if a.RequestID == "" {
		e.t.Errorf("answer without requestId: %s", w.Body)
	}
	return a
}

func (e *env) do(action string, kv ...string) answer {
	e.t.Helper()
	p := url.Values{"Action": {action}, "queueName": {"test1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return e.raw(http.MethodPost, "/", sign(http.MethodPost, "/", p))
}

func wantCode(t *testing.T, a answer, code, module int) {
	t.Helper()
	if a.Code != code || (module != 0 && !strings.HasPrefix(a.Message, "("+strconv.Itoa(module)+")")) {
		t.Fatalf("answer code %d message %q; want code %d module %d", a.Code, a.Message, code, module)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{})
	base := func() url.Values {
		return url.Values{"Action": {"SendMessage"}, "queueName": {"test1"}, "msgBody": {"x"}}
	}
	tests := []struct {
		name         string
		method, path string
		params       func() url.Values
		code, module int
	}{
		{"sha1 root path", "POST", "/", func() url.Values { return sign("POST", "/", base()) }, 0, 0},
		{"sha256 v2 path", "POST", "/v2/index.php", func() url.Values {
			p := base()
			p.Set("SignatureMethod", "HmacSHA256")
			return sign("POST", "/v2/index.php", p)
		}, 0, 0},
		{"GET", "GET", "/", func() url.Values { return sign("GET", "/", base()) }, 0, 0},
		{"unknown params are signed and ignored", "POST", "/", func() url.Values {
			p := base()
			p.Set("UserpollingWaitSeconds", "5")
			p.Set("Token", "tok/en+1=")
			return sign("POST", "/", p)
		}, 0, 0},
		{"signed for another path", "POST", "/v2/index.php", func() url.Values { return sign("POST", "/", base()) }, 4100, 10030},
		{"signed for another method", "GET", "/", func() url.Values { return sign("POST", "/", base()) }, 4100, 10030},
		{"tampered", "POST", "/", func() url.Values {
			p := sign("POST", "/", base())
			p.Set("msgBody", "y")
			return p
		}, 4100, 10030},
		{"missing nonce", "POST", "/", func() url.Values {
			p := sign("POST", "/", base())
			p.Del("Nonce")
			return p
		}, 4000, 10010},
		{"secret id not AKID", "POST", "/", func() url.Values {
			p := base()
			p.Set("SecretId", "XXXX")
			return sign("POST", "/", p)
		}, 4000, 10450},
		{"unknown secret id", "POST", "/", func() url.Values {
			p := base()
			p.Set("SecretId", "AKIDother")
			return sign("POST", "/", p)
		}, 4100, 10270},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, e.raw(tt.method, tt.path, tt.params()), tt.code, tt.module)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Options{})
	w := httptest.NewRecorder()
	e.b.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/", nil))
	var a answer
	json.Unmarshal(w.Body.Bytes(), &a)
	wantCode(t, a, 4000, 10410)
}

func TestReceiveDeleteLifecycle(t *testing.T) {
	e := newEnv(t, Options{VisibilityTimeout: time.Minute})
	sent := e.do("SendMessage", "msgBody", `{"a":"b c"}`, "clientRequestId", "77")
	wantCode(t, sent, 0, 0)
	if sent.ClientRequestID != 77 || sent.MsgID == "" {
		t.Fatalf("send answer %+v; want msgId and clientRequestId echoed", sent)
	}
	r1 := e.do("ReceiveMessage")
	wantCode(t, r1, 0, 0)
	if r1.MsgBody != `{"a":"b c"}` || r1.MsgID != sent.MsgID || r1.DequeueCount != 1 ||
		r1.NextVisibleTime != e.clock.Now().Add(time.Minute).Unix() {
		t.Fatalf("receive %+v; want the message, dequeueCount 1, nextVisibleTime now+1m", r1)
	}
	wantCode(t, e.do("ReceiveMessage"), 7000, 10200)
	e.clock.Advance(time.Minute)
	wantCode(t, e.do("DeleteMessage", "receiptHandle", r1.ReceiptHandle), 4430, 10260) // expired
	r2 := e.do("ReceiveMessage")
	if r2.DequeueCount != 2 || r2.ReceiptHandle == r1.ReceiptHandle {
		t.Fatalf("redelivery %+v; want dequeueCount 2 and a new handle", r2)
	}
	wantCode(t, e.do("DeleteMessage", "receiptHandle", r1.ReceiptHandle), 4430, 10260) // stale
	wantCode(t, e.do("DeleteMessage", "receiptHandle", r2.ReceiptHandle), 0, 0)
	wantCode(t, e.do("DeleteMessage", "receiptHandle", r2.ReceiptHandle), 4430, 10260) // twice
	if v, i, d := e.b.Stats("test1"); v+i+d != 0 {
		t.Errorf("Stats after delete = %d, %d, %d; want empty", v, i, d)
	}
}

func TestDelayAndStats(t *testing.T) {
	e := newEnv(t, Options{})
	wantCode(t, e.do("SendMessage", "msgBody", "later", "delaySeconds", "3600"), 0, 0)
	wantCode(t, e.do("SendMessage", "msgBody", "now"), 0, 0)
	if v, i, d := e.b.Stats("test1"); v != 1 || i != 0 || d != 1 {
		t.Fatalf("Stats = %d, %d, %d; want 1 visible, 1 delayed", v, i, d)
	}
	wantCode(t, e.do("ReceiveMessage"), 0, 0)
	if v, i, d := e.b.Stats("test1"); v != 0 || i != 1 || d != 1 {
		t.Fatalf("Stats = %d, %d, %d; want 1 in flight, 1 delayed", v, i, d)
	}
	if due, ok := e.b.NextDue(); !ok || !due.Equal(e.clock.Now().Add(30*time.Second)) {
		t.Errorf("NextDue = %v, %v; want the in-flight message's return", due, ok)
	}
	e.clock.Advance(time.Hour)
	if got := e.do("BatchReceiveMessage", "numOfMsg", "16"); len(got.MsgInfoList) != 2 {
		t.Fatalf("after an hour got %d messages; want both", len(got.MsgInfoList))
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name         string
		action       string
		kv           []string
		code, module int
	}{
		{"delay over an hour", "SendMessage", []string{"msgBody", "x", "delaySeconds", "3601"}, 4000, 10692},
		{"negative delay", "SendMessage", []string{"msgBody", "x", "delaySeconds", "-1"}, 4000, 10692},
		{"empty body", "SendMessage", []string{"msgBody", ""}, 4000, 10120},
		{"body over 1 MiB", "SendMessage", []string{"msgBody", strings.Repeat("x", MaxMessageSize+1)}, 4400, 10230},
		{"unknown action", "PurgeQueue", nil, 4000, 10280},
		{"missing queue", "SendMessage", []string{"queueName", "nope", "msgBody", "x"}, 4440, 10100},
		{"bad queue name", "SendMessage", []string{"queueName", "1bad", "msgBody", "x"}, 4000, 10020},
		{"numOfMsg missing", "BatchReceiveMessage", nil, 4000, 10010},
		{"numOfMsg 17", "BatchReceiveMessage", []string{"numOfMsg", "17"}, 4000, 10350},
		{"polling wait 31", "ReceiveMessage", []string{"pollingWaitSeconds", "31"}, 4000, 10350},
		{"batch not consecutive", "BatchSendMessage", []string{"msgBody.1", "a", "msgBody.3", "b"}, 4000, 10380},
		{"batch starts at 2", "BatchSendMessage", []string{"msgBody.2", "a"}, 4000, 10380},
		{"batch too large", "BatchSendMessage", batchKV("msgBody", 17), 4000, 10370},
		{"delete without handle", "DeleteMessage", nil, 4000, 10470},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, e.do(tt.action, tt.kv...), tt.code, tt.module)
		})
	}
}

func batchKV(name string, n int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf("%s.%d", name, i), "v")
	}
	return kv
}

func TestBatches(t *testing.T) {
	e := newEnv(t, Options{})
	sent := e.do("BatchSendMessage", "msgBody.0", "a", "msgBody.1", "b", "msgBody.2", "c")
	wantCode(t, sent, 0, 0)
	if len(sent.MsgList) != 3 {
		t.Fatalf("BatchSendMessage returned %d ids; want 3", len(sent.MsgList))
	}
	got := e.do("BatchReceiveMessage", "numOfMsg", "2")
	if len(got.MsgInfoList) != 2 || got.MsgInfoList[0].MsgBody != "a" {
		t.Fatalf("BatchReceiveMessage(2) = %+v; want a and b", got.MsgInfoList)
	}
	h0, h1 := got.MsgInfoList[0].ReceiptHandle, got.MsgInfoList[1].ReceiptHandle
	partial := e.do("BatchDeleteMessage", "receiptHandle.1", h0, "receiptHandle.2", "999")
	wantCode(t, partial, 6010, 10150)
	if len(partial.ErrorList) != 1 || partial.ErrorList[0].Code != 4430 || partial.ErrorList[0].ReceiptHandle != "999" {
		t.Errorf("errorList = %+v; want the one bad handle with 4430", partial.ErrorList)
	}
	wantCode(t, e.do("BatchDeleteMessage", "receiptHandle.0", "1", "receiptHandle.1", "2"), 6020, 10290)
	wantCode(t, e.do("BatchDeleteMessage", "receiptHandle.0", h1), 0, 0)
}

func TestMaxUnackedDropsMessages(t *testing.T) {
	e := newEnv(t, Options{MaxUnacked: time.Hour})
	wantCode(t, e.do("SendMessage", "msgBody", "x", "delaySeconds", "1800"), 0, 0)
	e.clock.Advance(time.Hour)
	wantCode(t, e.do("ReceiveMessage"), 7000, 10200)
	if _, err := e.b.SendMessage("test1", "x", 2*time.Hour); err == nil {
		t.Error("SendMessage with a delay over MaxUnacked succeeded")
	}
}

func TestRedeliverRate(t *testing.T) {
	deliveries := func(seed uint64) []string {
		e := newEnv(t, Options{RedeliverRate: 0.5, Seed: seed})
		for i := range 20 {
			e.b.SendMessage("test1", strconv.Itoa(i), 0)
		}
		var got []string
		for {
			a := e.do("BatchReceiveMessage", "numOfMsg", "16")
			if a.Code == 7000 {
				return got
			}
			for _, m := range a.MsgInfoList {
				got = append(got, m.MsgID)
				wantCode(t, e.do("DeleteMessage", "receiptHandle", m.ReceiptHandle), 0, 0)
			}
		}
	}
	a, b := deliveries(3), deliveries(3)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("same seed, different deliveries:\n%v\n%v", a, b)
	}
	if len(a) <= 20 || len(a) >= 40 {
		t.Errorf("%d deliveries of 20 messages at rate 0.5; want some, but not all, twice", len(a))
	}
}

func TestSendMessageGoAPI(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.b.SendMessage("nope", "x", 0); err == nil {
		t.Fatal("SendMessage to a missing queue succeeded")
	} else if ce, ok := err.(*Error); !ok || !ce.QueueNotFound() {
		t.Fatalf("SendMessage to a missing queue = %v; want a QueueNotFound *Error", err)
	}
	auto := New(Options{AutoCreate: true})
	if _, err := auto.SendMessage("fresh", "x", time.Second); err != nil {
		t.Fatalf("AutoCreate SendMessage = %v", err)
	}
	if err := auto.CreateQueue("bad name"); err == nil {
		t.Error("CreateQueue accepted a bad name")
	}
}

func TestLongPollWakesOnSend(t *testing.T) {
	e := newEnv(t, Options{})
	done := make(chan answer)
	go func() { done <- e.do("ReceiveMessage", "pollingWaitSeconds", "30") }()
	// Whether or not the poll is parked yet, it must return the message.
	e.b.SendMessage("test1", "hello", 0)
	if a := <-done; a.Code != 0 || a.MsgBody != "hello" {
		t.Fatalf("long poll = %+v; want the message", a)
	}
}
