package lambdainvoketest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

const prefix = "/2018-06-01/runtime/"

// Invocation is one event to hand to the function.
type Invocation struct {
	RequestID   string
	Payload     []byte
	Deadline    time.Time // zero: one minute after the function fetches it
	FunctionARN string
}

// Result is what the function posted for an invocation: a response payload,
// or an error (from .../error) with its JSON body decoded.
type Result struct {
	RequestID string
	Payload   []byte
	Error     *ErrorBody
	ErrorType string // Lambda-Runtime-Function-Error-Type header of an error post
}

// ErrorBody is the JSON body a runtime posts to .../error.
type ErrorBody struct {
	Message    string            `json:"errorMessage"`
	Type       string            `json:"errorType"`
	StackTrace []json.RawMessage `json:"stackTrace,omitempty"`
}

// Server serves the Runtime API endpoints a function uses: GET
// invocation/next (long poll), POST invocation/{id}/response, POST
// invocation/{id}/error and POST init/error. Invocations are delivered in
// order, one at a time.
type Server struct {
	srv     *httptest.Server
	pending chan Invocation
	closed  chan struct{}

	mu        sync.Mutex
	waiters   map[string]chan Result
	initError *ErrorBody
}

// NewServer starts a fake Runtime API; Close stops it.
func NewServer() *Server {
	s := &Server{pending: make(chan Invocation), closed: make(chan struct{}), waiters: map[string]chan Result{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"invocation/next", s.next)
	mux.HandleFunc("POST "+prefix+"invocation/{id}/response", s.response)
	mux.HandleFunc("POST "+prefix+"invocation/{id}/error", s.error)
	mux.HandleFunc("POST "+prefix+"init/error", s.initErr)
	s.srv = httptest.NewServer(mux)
	return s
}

// Addr is the value for AWS_LAMBDA_RUNTIME_API (host:port, no scheme).
func (s *Server) Addr() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// Close releases any blocked long poll and stops the server. Stop the
// function process first: Close waits for open requests.
func (s *Server) Close() {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.srv.Close()
}

// InitError returns what the function posted to init/error, if anything.
func (s *Server) InitError() *ErrorBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initError
}

// Invoke hands inv to the function and waits for its result or ctx.
func (s *Server) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	if inv.RequestID == "" {
		return Result{}, errors.New("lambdainvoketest: invocation without a request id")
	}
	done := make(chan Result, 1)
	s.mu.Lock()
	s.waiters[inv.RequestID] = done
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, inv.RequestID)
		s.mu.Unlock()
	}()
	select {
	case s.pending <- inv:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("lambdainvoketest: function did not fetch %s: %w", inv.RequestID, ctx.Err())
	}
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("lambdainvoketest: no result for %s: %w", inv.RequestID, ctx.Err())
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	var inv Invocation
	select {
	case inv = <-s.pending:
	case <-r.Context().Done():
		return
	case <-s.closed:
		http.Error(w, "runtime api closed", http.StatusGone)
		return
	}
	deadline := inv.Deadline
	if deadline.IsZero() {
		deadline = time.Now().Add(time.Minute)
	}
	arn := inv.FunctionARN
	if arn == "" {
		arn = "arn:aws:lambda:us-east-1:111122223333:function:test"
	}
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.RequestID)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", arn)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(inv.Payload)
}

func (s *Server) deliver(w http.ResponseWriter, id string, res Result) {
	s.mu.Lock()
	done, ok := s.waiters[id]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown request id "+id, http.StatusBadRequest)
		return
	}
	done <- res
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	s.deliver(w, id, Result{RequestID: id, Payload: body})
}

func (s *Server) error(w http.ResponseWriter, r *http.Request) {
	var eb ErrorBody
	if err := json.NewDecoder(r.Body).Decode(&eb); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	s.deliver(w, id, Result{RequestID: id, Error: &eb, ErrorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")})
}

func (s *Server) initErr(w http.ResponseWriter, r *http.Request) {
	var eb ErrorBody
	if err := json.NewDecoder(r.Body).Decode(&eb); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.initError = &eb
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}
