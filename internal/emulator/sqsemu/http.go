package sqsemu

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backupflow/backupflow/internal/emulator/fault"
)

const maxRequest = 4 << 20 // a 1 MiB body JSON-escaped

// apiError is an SQS error as the JSON 1.0 protocol carries it.
type apiError struct {
	status int
	typ    string // e.g. QueueDoesNotExist
	query  string // legacy query-protocol code for x-amzn-query-error
	msg    string
}

func newErr(status int, typ, query, msg string) *apiError {
	return &apiError{status: status, typ: typ, query: query, msg: msg}
}

func invalid(msg string) *apiError {
	return newErr(400, "InvalidParameterValue", "InvalidParameterValue", msg)
}

// request is the union of the input members of the operations served.
type request struct {
	QueueUrl                    string               //nolint:revive // wire name
	QueueName                   string               `json:",omitempty"`
	MessageBody                 *string              `json:",omitempty"`
	ReceiptHandle               string               `json:",omitempty"`
	DelaySeconds                *int64               `json:",omitempty"`
	MaxNumberOfMessages         *int64               `json:",omitempty"`
	WaitTimeSeconds             *int64               `json:",omitempty"`
	VisibilityTimeout           *int64               `json:",omitempty"`
	AttributeNames              []string             `json:",omitempty"`
	MessageSystemAttributeNames []string             `json:",omitempty"`
	MessageAttributes           map[string]attrValue `json:",omitempty"`
	MessageAttributeNames       []string             `json:",omitempty"`
}

// attrValue is a message attribute as the JSON protocol carries it.
type attrValue struct {
	DataType    string
	StringValue *string `json:",omitempty"`
	BinaryValue []byte  `json:",omitempty"`
}

// decodeRequest checks the JSON 1.0 framing and decodes the body, which it
// also returns for the signature check.
func decodeRequest(r *http.Request) (string, request, []byte, *apiError) {
	var req request
	if r.Method != http.MethodPost {
		return "", req, nil, newErr(405, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "only POST is supported")
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok || op == "" {
		return "", req, nil, newErr(400, "UnknownOperationException", "UnknownOperation", "missing or malformed X-Amz-Target")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		return op, req, nil, invalid("request body too large or unreadable")
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return op, req, body, newErr(400, "SerializationException", "SerializationException", "cannot decode the request body")
		}
	}
	return op, req, body, nil
}

// ServeHTTP serves SendMessage, ReceiveMessage, DeleteMessage,
// ChangeMessageVisibility, GetQueueUrl and CreateQueue.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := s.o.Faults.Next(false)
	switch k {
	case fault.ServerError:
		fault.ServeGatewayError(w)
		return
	case fault.Slow:
		t := time.NewTimer(s.o.Faults.SlowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	var out any
	op, req, body, aerr := decodeRequest(r)
	if aerr == nil {
		// Credentials first, as SQS does: an unsigned request learns nothing.
		aerr = s.authorize(r, body)
	}
	switch {
	case aerr != nil:
	case k == fault.InternalError:
		aerr = newErr(500, "InternalError", "InternalError", "we encountered an internal error, please try again")
	case k == fault.Throttle:
		aerr = newErr(400, "RequestThrottled", "RequestThrottled", "request throttled")
	default:
		out, aerr = s.handle(r, op, req)
	}
	if k == fault.Drop {
		fault.DropConnection(w) // the request took effect; the answer is lost
		return
	}
	status := http.StatusOK
	if aerr != nil {
		w.Header().Set("X-Amzn-Query-Error", aerr.query+";Sender")
		status = aerr.status
		out = map[string]string{"__type": "com.amazonaws.sqs#" + aerr.typ, "message": aerr.msg}
	}
	answer, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	s.mu.Lock()
	s.reqs++
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("00000000-0000-4000-8000-%012d", s.reqs))
	s.mu.Unlock()
	w.WriteHeader(status)
	_, _ = w.Write(answer) // the client is gone if this fails
}

func (s *Server) handle(r *http.Request, op string, req request) (any, *apiError) {
	switch op {
	case "GetQueueUrl", "CreateQueue":
		if op == "CreateQueue" {
			if err := s.CreateQueue(req.QueueName); err != nil {
				return nil, invalid(err.Error())
			}
		}
		s.mu.Lock()
		q := s.queueLocked(req.QueueName)
		s.mu.Unlock()
		if q == nil {
			return nil, queueMissing()
		}
		return map[string]string{"QueueUrl": s.QueueURL(baseURL(r), q.name)}, nil
	case "SendMessage":
		return s.send(req)
	case "ReceiveMessage":
		return s.receive(r.Context(), req)
	case "DeleteMessage":
		return s.delete(req)
	case "ChangeMessageVisibility":
		return s.changeVisibility(req)
	}
	return nil, newErr(400, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "operation "+op+" is not supported by this emulator")
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func queueMissing() *apiError {
	return newErr(400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "the specified queue does not exist")
}

// queueFromURL resolves <base>/<account>/<name>; the caller holds s.mu.
func (s *Server) queueFromURL(raw string) (*sqsQueue, *apiError) {
	if raw == "" {
		return nil, newErr(400, "MissingParameter", "MissingParameter", "QueueUrl is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, newErr(400, "InvalidAddress", "InvalidAddress", "the queue URL is not valid")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] != s.o.AccountID {
		return nil, queueMissing()
	}
	q := s.queueLocked(parts[1])
	if q == nil {
		return nil, queueMissing()
	}
	return q, nil
}

// validBody applies SQS's character rule: #x9 | #xA | #xD | #x20-#xD7FF |
// #xE000-#xFFFD | #x10000-#x10FFFF.
func validBody(b string) bool {
	if !utf8.ValidString(b) {
		return false
	}
	for _, r := range b {
		switch {
		case r == 0x9, r == 0xA, r == 0xD:
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

func (s *Server) send(req request) (any, *apiError) {
	if req.MessageBody == nil || *req.MessageBody == "" {
		return nil, newErr(400, "MissingParameter", "MissingParameter", "MessageBody is required and must not be empty")
	}
	body := *req.MessageBody
	if len(body) > MaxMessageSize {
		return nil, invalid("message must be shorter than 1048576 bytes")
	}
	if !validBody(body) {
		return nil, newErr(400, "InvalidMessageContents", "InvalidMessageContents", "message contains characters outside the allowed set")
	}
	if aerr := checkAttrs(req.MessageAttributes); aerr != nil {
		return nil, aerr
	}
	var delay time.Duration
	if req.DelaySeconds != nil {
		if *req.DelaySeconds < 0 || *req.DelaySeconds > int64(MaxDelay/time.Second) {
			return nil, invalid("DelaySeconds must be between 0 and 900")
		}
		delay = time.Duration(*req.DelaySeconds) * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, aerr := s.queueFromURL(req.QueueUrl)
	if aerr != nil {
		return nil, aerr
	}
	m := s.sendLocked(q, body, delay)
	m.attrs = req.MessageAttributes
	out := map[string]string{"MessageId": m.id, "MD5OfMessageBody": m.md5}
	if len(m.attrs) > 0 {
		out["MD5OfMessageAttributes"] = attrsMD5(m.attrs, nil)
	}
	return out, nil
}

// checkAttrs applies SQS's message-attribute rules: at most 10, named
// with letters, digits, - _ ., typed String, Number or Binary (optionally
// with a ".label"), and a value of that type.
func checkAttrs(attrs map[string]attrValue) *apiError {
	if len(attrs) > 10 {
		return invalid("at most 10 message attributes are allowed")
	}
	for name, v := range attrs {
		if name == "" || len(name) > 256 || strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.") ||
			strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			return invalid("message attribute name " + strconv.Quote(name) + " is invalid")
		}
		base, _, _ := strings.Cut(v.DataType, ".")
		switch {
		case base == "String" || base == "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return invalid("message attribute " + name + " needs a StringValue")
			}
		case base == "Binary":
			if len(v.BinaryValue) == 0 {
				return invalid("message attribute " + name + " needs a BinaryValue")
			}
		default:
			return invalid("message attribute " + name + " has the unsupported data type " + strconv.Quote(v.DataType))
		}
	}
	return nil
}

// attrsMD5 is the MD5 SQS reports over the attributes (those in names, or
// all when names is nil): per name in order, length-prefixed name, type,
// a transport byte (1 string, 2 binary) and length-prefixed value.
func attrsMD5(attrs map[string]attrValue, names map[string]bool) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		if names == nil || names[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := md5.New()
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, k := range keys {
		v := attrs[k]
		put([]byte(k))
		put([]byte(v.DataType))
		if v.StringValue != nil {
			h.Write([]byte{1})
			put([]byte(*v.StringValue))
		} else {
			h.Write([]byte{2})
			put(v.BinaryValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

type wireMessage struct {
	MessageId     string            //nolint:revive // wire name
	ReceiptHandle string            `json:",omitempty"`
	MD5OfBody     string            `json:",omitempty"`
	Body          string            `json:",omitempty"`
	Attributes    map[string]string `json:",omitempty"`
	// Message attributes asked for by MessageAttributeNames ("All", ".*",
	// a name, or a "prefix.*").
	MessageAttributes      map[string]attrValue `json:",omitempty"`
	MD5OfMessageAttributes string               `json:",omitempty"`
}

// pickAttrs returns the attributes the names ask for.
func pickAttrs(attrs map[string]attrValue, names []string) (map[string]attrValue, map[string]bool) {
	picked := map[string]bool{}
	for k := range attrs {
		for _, n := range names {
			if n == "All" || n == ".*" || n == k || strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*")) {
				picked[k] = true
			}
		}
	}
	if len(picked) == 0 {
		return nil, nil
	}
	out := map[string]attrValue{}
	for k := range picked {
		out[k] = attrs[k]
	}
	return out, picked
}

func (s *Server) receive(ctx context.Context, req request) (any, *apiError) {
	n := int64(1)
	if req.MaxNumberOfMessages != nil {
		n = *req.MaxNumberOfMessages
	}
	if n < 1 || n > MaxBatch {
		return nil, invalid("MaxNumberOfMessages must be between 1 and 10")
	}
	var wait int64
	if req.WaitTimeSeconds != nil {
		wait = *req.WaitTimeSeconds
	}
	if wait < 0 || wait > int64(MaxWait/time.Second) {
		return nil, invalid("WaitTimeSeconds must be between 0 and 20")
	}
	visibility := s.o.VisibilityTimeout
	if req.VisibilityTimeout != nil {
		if *req.VisibilityTimeout < 0 || *req.VisibilityTimeout > int64(MaxVisibility/time.Second) {
			return nil, invalid("VisibilityTimeout must be between 0 and 43200")
		}
		visibility = time.Duration(*req.VisibilityTimeout) * time.Second
	}
	attrs := append(slices.Clone(req.AttributeNames), req.MessageSystemAttributeNames...)
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(time.Duration(wait) * time.Second)
		defer t.Stop()
		deadline = t.C
	}
	for {
		s.mu.Lock()
		q, aerr := s.queueFromURL(req.QueueUrl)
		if aerr != nil {
			s.mu.Unlock()
			return nil, aerr
		}
		got, next := s.receiveLocked(q, int(n), visibility)
		out := make([]wireMessage, 0, len(got))
		for _, m := range got {
			wm := wireMessage{MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: m.md5, Body: m.body, Attributes: attributes(m, attrs)}
			if picked, names := pickAttrs(m.attrs, req.MessageAttributeNames); picked != nil {
				wm.MessageAttributes, wm.MD5OfMessageAttributes = picked, attrsMD5(m.attrs, names)
			}
			out = append(out, wm)
		}
		now, wake := s.o.Now(), s.wake
		s.mu.Unlock()
		if len(out) > 0 || deadline == nil {
			return map[string][]wireMessage{"Messages": out}, nil
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
		}
		if dueTimer != nil {
			dueTimer.Stop()
		}
	}
}

func attributes(m *message, names []string) map[string]string {
	all := slices.Contains(names, "All")
	out := map[string]string{}
	add := func(name, v string) {
		if all || slices.Contains(names, name) {
			out[name] = v
		}
	}
	add("ApproximateReceiveCount", strconv.Itoa(m.receives))
	add("SentTimestamp", strconv.FormatInt(m.sentAt.UnixMilli(), 10))
	add("ApproximateFirstReceiveTimestamp", strconv.FormatInt(m.firstReceive.UnixMilli(), 10))
	if len(out) == 0 {
		return nil
	}
	return out
}

// lookupLocked finds the message a receipt names; only the latest receipt
// of a message is valid.
func (s *Server) lookupLocked(req request) (*sqsQueue, *message, *apiError) {
	q, aerr := s.queueFromURL(req.QueueUrl)
	if aerr != nil {
		return nil, nil, aerr
	}
	m, ok := s.receipts[req.ReceiptHandle]
	if !ok || !slices.Contains(q.msgs, m) {
		return nil, nil, newErr(400, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "the receipt handle is not valid")
	}
	return q, m, nil
}

func (s *Server) delete(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, m, aerr := s.lookupLocked(req)
	if aerr != nil {
		return nil, aerr
	}
	s.deleteLocked(q, m)
	return struct{}{}, nil
}

func (s *Server) changeVisibility(req request) (any, *apiError) {
	if req.VisibilityTimeout == nil || *req.VisibilityTimeout < 0 || *req.VisibilityTimeout > int64(MaxVisibility/time.Second) {
		return nil, invalid("VisibilityTimeout must be between 0 and 43200")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, aerr := s.lookupLocked(req)
	if aerr != nil {
		return nil, aerr
	}
	now := s.o.Now()
	if !m.visibleAt.After(now) {
		return nil, newErr(400, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "the message is not in flight")
	}
	m.visibleAt = now.Add(time.Duration(*req.VisibilityTimeout) * time.Second)
	return struct{}{}, nil
}
