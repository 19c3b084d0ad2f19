package tencentemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
)

// CMQSender receives the messages tdmq SendCmqMsg accepts.
type CMQSender interface {
	SendMessage(queue, body string, delay time.Duration) (msgID string, err error)
}

// ErrQueueNotFound may be returned (wrapped) by a CMQSender for an unknown
// queue; SendCmqMsg then answers ResourceNotFound instead of FailedOperation.
var ErrQueueNotFound = errors.New("queue not found")

// Options configures a Server.
type Options struct {
	SecretID, SecretKey string // the one key pair accepted
	// Token, when set, is the only X-TC-Token accepted; empty accepts any
	// token (temporary credentials) signed with the key pair.
	Token string
	Fleet *fixture.Set     // nil → fixture.Default()
	Now   func() time.Time // nil → time.Now; drives jobs and rate-limit windows
	// SignatureNow is the clock X-TC-Timestamp is checked against (±300 s).
	// nil → time.Now, not Now: SDK clients stamp requests with the wall
	// clock, so a virtual Now must not expire their signatures.
	SignatureNow func() time.Time
	JobDuration  time.Duration   // default 3 s; fixture.Instance.Duration overrides per instance
	Faults       *fault.Injector // nil → no faults
	// QuietQueues spares TDMQ's SendCmqMsg the faults (emulator.Options).
	QuietQueues       bool
	DisableRateLimits bool
	CMQ               CMQSender // tdmq SendCmqMsg forwards here; nil → UnsupportedOperation
	// SourceChecker verifies an import's COS URL at StartBackupMigration;
	// nil → accept any http(s) URL.
	SourceChecker func(ctx context.Context, rawURL string) error
	Logger        *slog.Logger
}

// Limits on request size (facts §4.1).
const (
	maxPostBody = 10 << 20
	maxGetQuery = 32 << 10
)

// Server is the emulator; it is an http.Handler and safe for concurrent use.
type Server struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	fleet    *fixture.Set
	busy     map[string]bool
	failJobs map[string]string
	st       state
	calls    map[string]int
	windows  map[string]window
	faultN   int
	emitted  map[string]bool
	injected map[string][]*apiError

	keyMu sync.Mutex
	keys  map[[3]string][]byte // TC3 signing keys (signingKey)
}

// window counts requests to one action within one second of Now().
type window struct {
	sec int64
	n   int
}

// New returns a Server serving o.Fleet (fixture.Default when nil).
func New(o Options) *Server {
	if o.Fleet == nil {
		o.Fleet = fixture.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SignatureNow == nil {
		o.SignatureNow = time.Now
	}
	if o.JobDuration <= 0 {
		o.JobDuration = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		o: o, log: o.Logger, fleet: o.Fleet,
		busy: map[string]bool{}, failJobs: map[string]string{},
		calls: map[string]int{}, windows: map[string]window{}, emitted: map[string]bool{}, keys: map[[3]string][]byte{},
	}
	s.st.init()
	for _, in := range o.Fleet.Instances {
		if in.Busy {
			s.busy[in.ID] = true
		}
		if in.FailJobs != "" {
			s.failJobs[in.ID] = in.FailJobs
		}
	}
	s.seed()
	return s
}

// SetBusy makes create calls on the instance answer the product's busy code.
func (s *Server) SetBusy(instanceID string, busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy[instanceID] = busy
}

// SetFailJobs makes jobs created on the instance from now on end failed with
// msg; an empty msg lets them succeed again.
func (s *Server) SetFailJobs(instanceID, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failJobs[instanceID] = msg
}

// Calls counts requests that reached the action's handler: authenticated,
// routed, not throttled and not failed by an injected fault before the action.
func (s *Server) Calls(service, action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[service+"."+action]
}

// emittedCodes lists the error codes answered so far (tests).
func (s *Server) emittedCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.emitted))
	for c := range s.emitted {
		out = append(out, c)
	}
	return out
}

// call is one routed request as a handler sees it.
type call struct {
	ctx       context.Context
	requestID string
	region    string
	now       time.Time
	params    map[string]any
}

func (c *call) bind(dst any) *apiError {
	if err := bind(c.params, dst); err != nil {
		return errf(codeInvalidParameter, "%v", err)
	}
	return nil
}

// ServeHTTP answers one API 3.0 (or legacy v1) request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newUUID()
	now := s.o.Now()
	id, act, aerr, body := s.authenticate(w, r, s.o.SignatureNow())
	if aerr != nil {
		s.writeError(w, reqID, id, aerr)
		return
	}
	key := id.Service + "." + id.Action
	if !s.o.DisableRateLimits && !s.allow(key, act.limit, now) {
		code := codeRequestLimit
		if id.Service == "mongodb" {
			code = codeMongoTooManyRequests
		}
		s.writeError(w, reqID, id, errf(code, "Requests to %s exceed %d per second.", id.Action, act.limit))
		return
	}

	if e := s.popInjected(key); e != nil {
		s.writeError(w, reqID, id, e)
		return
	}

	performFirst := false
	var f fault.Kind
	if !(s.o.QuietQueues && id.Service == "tdmq") {
		f = s.o.Faults.Next(act.create)
	}
	switch f {
	case fault.ServerError:
		fault.ServeGatewayError(w)
		s.logf(id, reqID, "fault:5xx")
		return
	case fault.GatewayThrottle:
		fault.ServeStatus(w, http.StatusTooManyRequests)
		s.logf(id, reqID, "fault:429")
		return
	case fault.Throttle:
		s.writeError(w, reqID, id, errf(codeRequestLimit, "Requests to %s exceed the rate limit.", id.Action))
		return
	case fault.Busy:
		s.writeError(w, reqID, id, errf(busyCode(id.Service), "The instance is busy with another task; try again later."))
		return
	case fault.Slow:
		d := s.o.Faults.SlowDelay
		t := time.NewTimer(d)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	case fault.InternalError, fault.Drop, fault.Null, fault.GatewayBadGateway:
		// On a create, half the time the action takes effect before the
		// answer is lost, so callers must look up before they retry.
		if act.create {
			s.mu.Lock()
			s.faultN++
			performFirst = s.faultN%2 == 1
			s.mu.Unlock()
		}
		if !performFirst {
			s.failFault(w, reqID, id, f)
			return
		}
	}

	params, perr := s.decode(id, act, body)
	if perr != nil {
		if performFirst {
			s.failFault(w, reqID, id, f)
			return
		}
		s.writeError(w, reqID, id, perr)
		return
	}
	c := &call{ctx: r.Context(), requestID: reqID, region: id.Region, now: now, params: params}
	s.mu.Lock()
	s.calls[key]++
	s.mu.Unlock()
	resp, herr := act.handle(s, c)
	if performFirst {
		s.failFault(w, reqID, id, f)
		return
	}
	if herr != nil {
		s.writeError(w, reqID, id, herr)
		return
	}
	s.writeOK(w, reqID, id, resp)
}

func (s *Server) failFault(w http.ResponseWriter, reqID string, id identity, f fault.Kind) {
	switch f {
	case fault.Null:
		s.logf(id, reqID, "fault:null")
		fault.ServeNull(w)
		return
	case fault.GatewayBadGateway:
		s.logf(id, reqID, "fault:502")
		fault.ServeStatus(w, http.StatusBadGateway)
		return
	}
	if f == fault.Drop {
		s.logf(id, reqID, "fault:drop")
		fault.DropConnection(w)
		return
	}
	s.writeError(w, reqID, id, errf(internalCode(id.Service), "An internal error occurred; the request may or may not have taken effect."))
}

// authenticate reads the body within limits, verifies the signature and
// routes to an action. body is the exact bytes read.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, now time.Time) (identity, *action, *apiError, []byte) {
	var id identity
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return id, nil, errf(codeUnsupportedOperation, "HTTP method %s is not supported; use POST or GET.", r.Method), nil
	}
	if len(r.URL.RawQuery) > maxGetQuery {
		return id, nil, errf(codeRequestSizeLimit, "The query string exceeds %d bytes.", maxGetQuery), nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPostBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return id, nil, errf(codeRequestSizeLimit, "The request body exceeds %d bytes.", maxPostBody), nil
		}
		return id, nil, errf(codeInvalidRequest, "the request body cannot be read: %v", err), nil
	}
	var aerr *apiError
	if auth := r.Header.Get("Authorization"); auth != "" {
		id, aerr = s.verifyTC3(r, body, now)
	} else {
		form, ferr := formValues(r, body)
		if r.Method == http.MethodPost && !isForm(r) {
			form = nil
		}
		if ferr != nil || form.Get("Signature") == "" {
			return id, nil, errf(codeInvalidAuthorization, "The request carries neither an Authorization header nor a v1 Signature."), body
		}
		id, aerr = s.verifyV1(r, form, now)
	}
	if aerr != nil {
		return id, nil, aerr, body
	}
	svc, ok := services[id.Service]
	if !ok {
		return id, nil, errf(codeNoSuchProduct, "The product %q does not exist.", id.Service), body
	}
	if id.Version != svc.version {
		return id, nil, errf(codeNoSuchVersion, "The API version %q does not exist for %s; use %s.", id.Version, id.Service, svc.version), body
	}
	if id.Action == "" {
		return id, nil, errf(codeMissingParameter, "The request is missing a required parameter `Action`."), body
	}
	act, ok := svc.actions[id.Action]
	if !ok {
		return id, nil, errf(codeInvalidAction, "The action %s is not supported by %s %s.", id.Action, id.Service, svc.version), body
	}
	if act.limit == 0 {
		act.limit = 20
	}
	return id, &act, nil, body
}

func (s *Server) decode(id identity, act *action, body []byte) (map[string]any, *apiError) {
	if id.Form != nil {
		return decodeForm(id.Form, act.params)
	}
	return decodeJSON(body, act.params)
}

// allow counts one request against key's per-second budget on the Now() clock.
func (s *Server) allow(key string, limit int, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := now.Unix()
	wd := s.windows[key]
	if wd.sec != sec {
		wd = window{sec: sec}
	}
	wd.n++
	s.windows[key] = wd
	return wd.n <= limit
}

func (s *Server) writeOK(w http.ResponseWriter, reqID string, id identity, resp any) {
	b, err := json.Marshal(resp)
	if err != nil || len(b) < 2 || b[0] != '{' {
		s.writeError(w, reqID, id, errf(codeInternalError, "the emulator could not encode its answer"))
		return
	}
	rid, _ := json.Marshal(reqID)
	var out bytes.Buffer
	out.WriteString(`{"Response":`)
	out.Write(b[:len(b)-1])
	if len(b) > 2 {
		out.WriteString(",")
	}
	out.WriteString(`"RequestId":`)
	out.Write(rid)
	out.WriteString("}}")
	s.logf(id, reqID, "")
	writeJSON(w, out.Bytes())
}

func (s *Server) writeError(w http.ResponseWriter, reqID string, id identity, e *apiError) {
	s.mu.Lock()
	s.emitted[e.Code] = true
	s.mu.Unlock()
	env := map[string]any{"Response": map[string]any{
		"Error":     map[string]string{"Code": e.Code, "Message": e.Message},
		"RequestId": reqID,
	}}
	b, _ := json.Marshal(env)
	s.logf(id, reqID, e.Code)
	writeJSON(w, b)
}

// writeJSON always answers 200: Tencent reports API errors in the envelope.
func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// logf logs one answered request. Parameters are never logged: they can hold
// presigned URLs and message bodies.
func (s *Server) logf(id identity, reqID, outcome string) {
	if outcome == "" {
		outcome = "ok"
	}
	s.log.Debug("tencentemu request", "service", id.Service, "action", id.Action, "outcome", outcome, "request_id", reqID)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

func busyCode(service string) string {
	switch service {
	case "cdb":
		return codeCdbActionInProcess
	case "sqlserver":
		return codeMssqlStatusInvalid
	case "mongodb":
		return codeMongoStatusAbnormal
	}
	return codeFailedOperation
}

func internalCode(service string) string {
	switch service {
	case "cdb":
		return codeCdbInternal
	case "sqlserver":
		return codeMssqlInternal
	}
	return codeInternalError
}

// bjt is the zone of every "YYYY-MM-DD hh:mm:ss" the products print (Beijing
// time for the Chinese regions the fleet lives in).
var bjt = time.FixedZone("CST", 8*3600)

const tcTime = "2006-01-02 15:04:05"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(bjt).Format(tcTime)
}

// InjectError makes the next call to service's action (e.g. "cdb",
// "CreateBackup") answer with this error code, once per call. Tests use it
// to prove a client understands every code a product documents, including
// ones no emulated scenario produces (InternalError.DesError, OverQuota, ...).
func (s *Server) InjectError(service, action, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.injected == nil {
		s.injected = map[string][]*apiError{}
	}
	k := service + "." + action
	s.injected[k] = append(s.injected[k], errf(code, "%s", message))
}

func (s *Server) popInjected(key string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.injected[key]
	if len(q) == 0 {
		return nil
	}
	s.injected[key] = q[1:]
	return q[0]
}

// PendingInjected counts the injected errors of service's action not yet
// answered, so a test can tell its fault was met.
func (s *Server) PendingInjected(service, action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.injected[service+"."+action])
}
