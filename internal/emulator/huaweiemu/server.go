package huaweiemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Error codes the emulator answers with. Codes lists them all.
const (
	codeNotFoundAPI   = "APIGW.0101" // 404: no such API (path or method)
	codeAuth          = "APIGW.0301" // 401: bad Authorization, unknown AK, bad signature
	codeClockSkew     = "APIGW.0303" // 401: X-Sdk-Date more than 15 minutes from server time
	codeThrottled     = "APIGW.0308" // 429: more than RateLimit requests per second per API
	codeInternal      = "DBS.108000" // 500: injected server error
	codeParam         = "DBS.200001" // 400: invalid or missing parameter
	codeNoInstance    = "DBS.200002" // 404: instance does not exist
	codeEmptyBody     = "DBS.200006" // 400: empty request body
	codeForbidden     = "DBS.200010" // 403: project id in the path is not the account's
	codeBusy          = "DBS.200011" // 409: another operation is running on the instance
	codeBadState      = "DBS.200086" // 400: read replica or instance not ACTIVE
	codeDuplicateName = "DBS.201209" // 409: backup name already used on the instance
	codeNoBackup      = "DBS.200045" // 404: backup does not exist
)

var allCodes = []string{codeNotFoundAPI, codeAuth, codeClockSkew, codeThrottled, codeInternal,
	codeParam, codeNoInstance, codeEmptyBody, codeForbidden, codeBusy, codeBadState, codeDuplicateName, codeNoBackup}

// RateLimit is how many requests per API the emulator serves in one
// second of Options.Now before it throttles. Huawei publishes no figure;
// 10/s matches provider.LimitsOf(HuaweiRDS).
const RateLimit = 10

// maxBody bounds a request body; the largest real one is a few hundred bytes.
const maxBody = 1 << 20

// Options configure a Server.
type Options struct {
	// AK and SK are the one key pair the emulator accepts.
	AK, SK string
	// Fleet holds the instances; only HuaweiRDS ones are visible. Default fixture.Default().
	Fleet *fixture.Set
	// Now is the emulator's clock; every backup state is a function of it.
	Now func() time.Time
	// JobDuration is how long a backup stays BUILDING unless the instance
	// overrides it; zero means 3 s.
	JobDuration time.Duration
	// Faults breaks a share of requests; nil breaks none.
	Faults *fault.Injector
	// DisableRateLimits turns off the per-API RateLimit.
	DisableRateLimits bool
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// Server is the emulated RDS v3 endpoint. Safe for concurrent use.
//
// Choices where the documentation leaves room, so callers know what they
// are tested against:
//   - A correctly signed request whose X-Sdk-Date is more than 15 minutes
//     off answers 401 APIGW.0303; every other authentication failure
//     (missing or malformed header, unknown AK, bad signature) 401 APIGW.0301.
//   - A project id other than Fleet.HuaweiProjectID, in the path or in
//     X-Project-Id, answers 403 DBS.200010.
//   - Backup names are unique per instance (409 DBS.201209), which lets both
//     seed examples use the name "backup".
//   - CreateManualBackup rejects unknown body fields (400 DBS.200001) so an
//     adapter's typo fails here instead of being ignored.
//   - Backups list newest first; the status filter applies to every engine.
type Server struct {
	o Options

	mu      sync.Mutex
	backups []*backup // creation order
	// byInstance holds the same backups per instance, in creation order, so a
	// list or a create scans one instance's backups, not the fleet's: the
	// simulator's 10,000 instances made listBackups a linear scan per poll.
	byInstance map[string][]*backup
	busy       map[string]bool
	failJobs   map[string]string
	ids        uint64
	requests   uint64
	windows    map[string]window
	ambiguous  uint64 // ambiguous faults injected on creates so far
}

type window struct {
	sec int64
	n   int
}

// backup is one manual backup. Its status is derived from created,
// duration and failMsg on every read, never stored.
type backup struct {
	id, instanceID, name, description string
	databases                         []string
	created                           time.Time
	duration                          time.Duration
	failMsg                           string
	engine                            string
	deleted                           time.Time // zero unless DeleteManualBackup was called
	individually                      bool      // backup_database_individually
}

// New returns a Server. It starts nothing: there are no goroutines or timers.
func New(o Options) *Server {
	if o.Fleet == nil {
		o.Fleet = fixture.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.JobDuration <= 0 {
		o.JobDuration = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{o: o, busy: map[string]bool{}, failJobs: map[string]string{}, windows: map[string]window{}}
}

// Codes lists every error_code the emulator can answer with.
func (s *Server) Codes() []string {
	out := append([]string(nil), allCodes...)
	sort.Strings(out)
	return out
}

// SetBusy overrides the fixture's Busy flag for an instance: while busy,
// CreateManualBackup answers 409 DBS.200011.
func (s *Server) SetBusy(instanceID string, busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy[instanceID] = busy
}

// SetFailJobs overrides the fixture's FailJobs text for an instance. Backups
// created afterwards end FAILED with msg; an empty msg makes them succeed.
// The text is captured at creation so a backup's fate never changes later.
func (s *Server) SetFailJobs(instanceID, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failJobs[instanceID] = msg
}

// Jobs reports every backup with its state at Now.
func (s *Server) Jobs() []fixture.Job {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]fixture.Job, 0, len(s.backups))
	for _, b := range s.backups {
		j := fixture.Job{Product: provider.HuaweiRDS, Op: provider.Backup, InstanceID: b.instanceID,
			Name: b.name, ID: b.id, Created: b.created, Deleted: b.deleted}
		if b.individually {
			j.Settings = []string{"backup_database_individually"}
		}
		switch b.status(now) {
		case statusCompleted:
			j.State, j.Finished = provider.Succeeded, b.created.Add(b.duration)
		case statusFailed:
			j.State, j.Finished, j.Detail = provider.Failed, b.created.Add(b.duration), b.failMsg
		case statusDeleting:
			j.State, j.Finished, j.Detail = provider.Failed, b.deleted, "deleted"
		default:
			j.State = provider.Running
		}
		out = append(out, j)
	}
	return out
}

// Backup statuses.
const (
	statusBuilding  = "BUILDING"
	statusCompleted = "COMPLETED"
	statusFailed    = "FAILED"
	statusDeleting  = "DELETING"
)

// deleteDuration is how long a deleted backup stays listed as DELETING
// before it disappears.
const deleteDuration = 5 * time.Second

func (b *backup) status(now time.Time) string {
	if !b.deleted.IsZero() {
		return statusDeleting
	}
	if now.Before(b.created.Add(b.duration)) {
		return statusBuilding
	}
	if b.failMsg != "" {
		return statusFailed
	}
	return statusCompleted
}

// apiError is an answer other than 200.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// route is one API: its action name (for rate limits and logs), whether it
// creates a job (for faults), and its handler.
type route struct {
	action string
	create bool
	handle func(s *Server, r *http.Request, body []byte, now time.Time) (any, *apiError)
}

func lookup(method, resource string) (route, bool) {
	switch {
	case method == http.MethodDelete && strings.HasPrefix(resource, "backups/"):
		return route{"DeleteManualBackup", false, (*Server).deleteBackup}, true
	case method == http.MethodPost && resource == "backups":
		return route{"CreateManualBackup", true, (*Server).createBackup}, true
	case method == http.MethodGet && resource == "backups":
		return route{"ListBackups", false, (*Server).listBackups}, true
	case method == http.MethodGet && resource == "instances":
		return route{"ListInstances", false, (*Server).listInstances}, true
	}
	return route{}, false
}

// ServeHTTP answers /v3/{project_id}/backups and /v3/{project_id}/instances.
// Checks run in the gateway's order: route, signature, project, rate limit,
// injected fault, then the API itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.o.Now()
	reqID := s.nextRequestID()
	w.Header().Set("X-Request-Id", reqID)
	action, status, code := s.serve(w, r, now, reqID)
	s.o.Logger.Debug("huaweiemu request", "method", r.Method, "path", r.URL.Path, "action", action,
		"status", status, "code", code, "request_id", reqID)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, now time.Time, reqID string) (action string, status int, code string) {
	fail := func(e *apiError) (string, int, string) {
		writeError(w, e, reqID)
		return action, e.status, e.code
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var rt route
	ok := (len(parts) == 3 || len(parts) == 4 && parts[3] != "") && parts[0] == "v3" && parts[1] != ""
	if ok {
		rt, ok = lookup(r.Method, strings.Join(parts[2:], "/"))
	}
	if !ok {
		return fail(errf(http.StatusNotFound, codeNotFoundAPI, "The API does not exist or has not been published in the environment: %s %s", r.Method, r.URL.Path))
	}
	action = rt.action
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return fail(errf(http.StatusBadRequest, codeParam, "request body unreadable or over %d bytes", maxBody))
	}
	if ae := verify(r, body, s.o.AK, s.o.SK, now); ae != nil {
		return fail(errf(http.StatusUnauthorized, ae.code, "%s", ae.msg))
	}
	if pid := parts[1]; pid != s.o.Fleet.HuaweiProjectID {
		return fail(errf(http.StatusForbidden, codeForbidden, "project %s is not accessible with this access key", pid))
	}
	if hp := r.Header.Get("X-Project-Id"); hp != "" && hp != parts[1] {
		return fail(errf(http.StatusForbidden, codeForbidden, "X-Project-Id %s does not match the project in the path", hp))
	}
	if !s.o.DisableRateLimits && !s.admit(rt.action, now) {
		return fail(errf(http.StatusTooManyRequests, codeThrottled, "The throttling threshold has been reached: policy user over ratelimit, limit:%d, time:1 second", RateLimit))
	}
	switch s.o.Faults.Next(rt.create) {
	case fault.InternalError:
		s.maybePerform(rt, r, body, now)
		return fail(errf(http.StatusInternalServerError, codeInternal, "Server error."))
	case fault.ServerError:
		fault.ServeGatewayError(w)
		return action, http.StatusServiceUnavailable, ""
	case fault.Drop:
		s.maybePerform(rt, r, body, now)
		fault.DropConnection(w)
		return action, 0, "drop"
	case fault.Slow:
		select {
		case <-time.After(s.o.Faults.SlowDelay):
		case <-r.Context().Done():
			return action, 0, "client gone"
		}
	case fault.Throttle:
		return fail(errf(http.StatusTooManyRequests, codeThrottled, "The throttling threshold has been reached: policy user over ratelimit, limit:%d, time:1 second", RateLimit))
	case fault.Busy:
		return fail(errf(http.StatusConflict, codeBusy, "Another operation is being performed on the DB instance or the DB instance is faulty. Try again later."))
	}
	out, e := rt.handle(s, r, body, now)
	if e != nil {
		return fail(e)
	}
	writeJSON(w, http.StatusOK, out)
	return action, http.StatusOK, ""
}

// maybePerform carries out a create behind an ambiguous fault every other
// time (the first, third, ...), so callers meet both outcomes reproducibly
// and must look the backup up before retrying.
func (s *Server) maybePerform(rt route, r *http.Request, body []byte, now time.Time) {
	if !rt.create {
		return
	}
	s.mu.Lock()
	s.ambiguous++
	perform := s.ambiguous%2 == 1
	s.mu.Unlock()
	if perform {
		_, _ = rt.handle(s, r, body, now)
	}
}

func (s *Server) admit(action string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := now.Unix()
	w := s.windows[action]
	if w.sec != sec {
		w = window{sec: sec}
	}
	w.n++
	s.windows[action] = w
	return w.n <= RateLimit
}

// nextRequestID returns a reproducible 32-hex request id.
func (s *Server) nextRequestID() string {
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.mu.Unlock()
	h := sha256.Sum256([]byte(fmt.Sprintf("huaweiemu-request-%d", n)))
	return hex.EncodeToString(h[:16])
}

func writeError(w http.ResponseWriter, e *apiError, reqID string) {
	body := map[string]string{"error_code": e.code, "error_msg": e.msg}
	if strings.HasPrefix(e.code, "APIGW.") {
		// The gateway, unlike RDS itself, repeats the request id in the body.
		body["request_id"] = reqID
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error_code":"DBS.108000","error_msg":"Server error."}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var _ http.Handler = (*Server)(nil)
