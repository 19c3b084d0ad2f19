package cmqemu

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue/cmqsign"
)

// maxRequest bounds a request body: a 1 MiB message form-encoded can triple.
const maxRequest = 4 << 20

// response is one data-plane answer: the envelope code and message plus the
// action's top-level fields.
type response struct {
	err    *Error
	fields map[string]any
}

// ServeHTTP serves the data plane: GET (query) or POST (form body, any
// Content-Type) on any path ("/" and "/v2/index.php" in practice), signed
// as facts/platform.md §9.3 with the request's method, Host and path. Every
// API outcome is HTTP 200 with a JSON envelope; faults may drop the
// connection, answer 5xx, delay, or answer 6000/4420.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := b.o.Faults.Next(false)
	switch k {
	case fault.ServerError:
		fault.ServeGatewayError(w)
		return
	case fault.GatewayBadGateway:
		fault.ServeStatus(w, http.StatusBadGateway)
		return
	case fault.GatewayThrottle:
		fault.ServeStatus(w, http.StatusTooManyRequests)
		return
	case fault.Slow:
		t := time.NewTimer(b.o.Faults.SlowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	params, perr := parseRequest(r)
	var resp response
	switch {
	case perr != nil:
		resp.err = perr
	case k == fault.InternalError:
		resp.err = errf(6000, 10050, "internal error")
	case k == fault.Throttle:
		resp.err = errf(4420, 10250, "qps throttling")
	default:
		resp = b.handle(r.Context(), r.Method, r.Host, r.URL.Path, params)
	}
	if k == fault.Drop {
		// The request took effect but its answer is lost: the ambiguous case.
		fault.DropConnection(w)
		return
	}
	b.write(w, params, resp)
}

// parseRequest extracts the parameters: GET from the query, POST from the
// body parsed as a form whatever its Content-Type (the query is ignored).
func parseRequest(r *http.Request) (url.Values, *Error) {
	switch r.Method {
	case http.MethodGet:
		v, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, errf(4000, 10420, "cannot parse the request")
		}
		return v, nil
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
		if err != nil || len(body) > maxRequest {
			return nil, errf(4000, 10420, "cannot parse, or request is larger than allowed")
		}
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errf(4000, 10420, "cannot parse the request")
		}
		return v, nil
	}
	return nil, errf(4000, 10410, "only GET or POST method is supported")
}

func (b *Broker) write(w http.ResponseWriter, params url.Values, resp response) {
	out := map[string]any{}
	for k, v := range resp.fields {
		out[k] = v
	}
	b.mu.Lock()
	b.reqSeq++
	out["requestId"] = strconv.FormatUint(39410804591000000+b.reqSeq, 10)
	b.mu.Unlock()
	cid, _ := strconv.ParseInt(params.Get("clientRequestId"), 10, 64)
	out["clientRequestId"] = cid
	if resp.err != nil {
		out["code"], out["message"] = resp.err.Code, resp.err.Error()
	} else {
		out["code"], out["message"] = 0, ""
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out) // the client is gone if this fails
}

func (b *Broker) authenticate(method, host, path string, p url.Values) *Error {
	for _, n := range []string{"Action", "Timestamp", "Nonce", "SecretId", "Signature"} {
		if p.Get(n) == "" {
			return errf(4000, 10010, "lacked of required parameter %s", n)
		}
	}
	if !strings.HasPrefix(p.Get("SecretId"), "AKID") {
		return errf(4000, 10450, "secret id dosen't begin with AKID")
	}
	if b.o.SecretID == "" {
		return nil
	}
	if p.Get("SecretId") != b.o.SecretID {
		return errf(4100, 10270, "secret id is not existed")
	}
	if path == "" {
		path = "/"
	}
	if !cmqsign.Verify(method, host, path, p, b.o.SecretKey) {
		return errf(4100, 10030, "authentication failed")
	}
	return nil
}

func (b *Broker) handle(ctx context.Context, method, host, path string, p url.Values) response {
	if err := b.authenticate(method, host, path, p); err != nil {
		return response{err: err}
	}
	queue := p.Get("queueName")
	if queue == "" {
		return response{err: errf(4000, 10010, "lacked of required parameter queueName")}
	}
	if err := checkName(queue); err != nil {
		return response{err: err}
	}
	switch p.Get("Action") {
	case "SendMessage":
		return b.doSend(queue, []string{p.Get("msgBody")}, p, false)
	case "BatchSendMessage":
		bodies, err := indexed(p, "msgBody")
		if err != nil {
			return response{err: err}
		}
		return b.doSend(queue, bodies, p, true)
	case "ReceiveMessage":
		return b.doReceive(ctx, queue, 1, p, false)
	case "BatchReceiveMessage":
		if p.Get("numOfMsg") == "" {
			return response{err: errf(4000, 10010, "lacked of required parameter numOfMsg")}
		}
		n, err := strconv.Atoi(p.Get("numOfMsg"))
		if err != nil || n < 1 || n > MaxBatch {
			return response{err: errf(4000, 10350, "parameter numOfMsg value or length is out of range")}
		}
		return b.doReceive(ctx, queue, n, p, true)
	case "DeleteMessage":
		b.mu.Lock()
		err := b.deleteLocked(queue, p.Get("receiptHandle"))
		b.mu.Unlock()
		return response{err: err}
	case "BatchDeleteMessage":
		handles, err := indexed(p, "receiptHandle")
		if err != nil {
			return response{err: err}
		}
		return b.doBatchDelete(queue, handles)
	}
	return response{err: errf(4000, 10280, "action %s is not existed", p.Get("Action"))}
}

func (b *Broker) doSend(queue string, bodies []string, p url.Values, batch bool) response {
	delay := 0
	if s := p.Get("delaySeconds"); s != "" {
		d, err := strconv.Atoi(s)
		if err != nil {
			return response{err: errf(4000, 10692, "delay seconds is out of range")}
		}
		delay = d
	}
	if batch {
		total := 0
		for _, s := range bodies {
			total += len(s)
		}
		if total > maxBatchSend {
			return response{err: errf(4470, 10300, "total message size exceed limit")}
		}
	}
	b.mu.Lock()
	ids, err := b.sendLocked(queue, bodies, time.Duration(delay)*time.Second)
	b.mu.Unlock()
	if err != nil {
		return response{err: err}
	}
	if !batch {
		return response{fields: map[string]any{"msgId": ids[0]}}
	}
	list := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		list = append(list, map[string]string{"msgId": id})
	}
	return response{fields: map[string]any{"msgList": list}}
}

// doReceive long-polls: it re-checks when a message is sent or the next
// hidden one is due, until pollingWaitSeconds (real time) pass.
func (b *Broker) doReceive(ctx context.Context, queue string, n int, p url.Values, batch bool) response {
	wait := 0
	if s := p.Get("pollingWaitSeconds"); s != "" {
		w, err := strconv.Atoi(s)
		if err != nil || w < 0 || w > int(MaxPollingWait/time.Second) {
			return response{err: errf(4000, 10350, "parameter pollingWaitSeconds value or length is out of range")}
		}
		wait = w
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(time.Duration(wait) * time.Second)
		defer t.Stop()
		deadline = t.C
	}
	for {
		b.mu.Lock()
		got, next, err := b.receiveLocked(queue, n)
		wake := b.wake
		now := b.o.Now()
		b.mu.Unlock()
		if err != nil {
			return response{err: err}
		}
		if len(got) > 0 {
			if !batch {
				return response{fields: deliveryFields(got[0])}
			}
			return response{fields: map[string]any{"msgInfoList": got}}
		}
		if deadline == nil {
			return response{err: errNoMessage}
		}
		var due <-chan time.Time
		var dueTimer *time.Timer
		if !next.IsZero() {
			dueTimer = time.NewTimer(next.Sub(now))
			due = dueTimer.C
		}
		select {
		case <-wake:
		case <-due:
		case <-deadline:
			deadline = nil
		case <-ctx.Done():
			deadline = nil
		case <-b.stop:
			deadline = nil
		}
		if dueTimer != nil {
			dueTimer.Stop()
		}
	}
}

func deliveryFields(d delivery) map[string]any {
	return map[string]any{
		"msgBody": d.MsgBody, "msgId": d.MsgID, "receiptHandle": d.ReceiptHandle,
		"enqueueTime": d.EnqueueTime, "firstDequeueTime": d.FirstDequeueTime,
		"nextVisibleTime": d.NextVisibleTime, "dequeueCount": d.DequeueCount,
	}
}

func (b *Broker) doBatchDelete(queue string, handles []string) response {
	type failure struct {
		Code          int    `json:"code"`
		Message       string `json:"message"`
		ReceiptHandle string `json:"receiptHandle"`
	}
	var failed []failure
	b.mu.Lock()
	for _, h := range handles {
		if err := b.deleteLocked(queue, h); err != nil {
			if err.Code == errQueueMissing.Code {
				b.mu.Unlock()
				return response{err: err}
			}
			failed = append(failed, failure{Code: err.Code, Message: err.Text, ReceiptHandle: h})
		}
	}
	b.mu.Unlock()
	switch {
	case len(failed) == 0:
		return response{}
	case len(failed) == len(handles):
		return response{err: errf(6020, 10290, "delete message fully failed"), fields: map[string]any{"errorList": failed}}
	}
	return response{err: errf(6010, 10150, "delete message partially failed"), fields: map[string]any{"errorList": failed}}
}

// indexed collects name.n parameters: n starts at 0 or 1, is consecutive,
// and there are at most MaxBatch of them.
func indexed(p url.Values, name string) ([]string, *Error) {
	idx := map[int]string{}
	var keys []int
	for k := range p {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return nil, errf(4000, 10380, "batch parameter %s is not consequent", k)
		}
		idx[n] = p.Get(k)
		keys = append(keys, n)
	}
	if len(keys) == 0 {
		return nil, errf(4000, 10010, "lacked of required parameter %s.n", name)
	}
	if len(keys) > MaxBatch {
		return nil, errf(4000, 10370, "batch size out of range")
	}
	sort.Ints(keys)
	if keys[0] > 1 {
		return nil, errf(4000, 10380, "batch parameter %s is not consequent", name)
	}
	out := make([]string, 0, len(keys))
	for i, n := range keys {
		if n != keys[0]+i {
			return nil, errf(4000, 10380, "batch parameter %s is not consequent", name)
		}
		out = append(out, idx[n])
	}
	return out, nil
}
