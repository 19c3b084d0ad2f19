package scfinvoke

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/rpc"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke"
)

// ErrHandlerPanic is wrapped by the error Serve returns after a handler
// panicked. The platform was told to replace the instance (ShouldExit), so
// the caller should exit the process.
var ErrHandlerPanic = errors.New("handler panicked")

// Option configures Serve and Start.
type Option func(*server)

// WithLogger sets the logger for invocation failures; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *server) { s.log = l }
}

// WithSetenv replaces os.Setenv as the way the per-invoke Environment is
// applied. Tests use it to keep the process environment untouched.
func WithSetenv(setenv func(key, value string) error) Option {
	return func(s *server) { s.setenv = setenv }
}

// Start serves h the way the SCF Go1 runtime expects: net/rpc on
// 0.0.0.0:$_LAMBDA_SERVER_PORT with the service name "Function". It returns
// only on failure, or after a handler panic (wrapping ErrHandlerPanic), and
// the caller should then exit non-zero.
func Start(h invoke.Handler, opts ...Option) error {
	port := os.Getenv("_LAMBDA_SERVER_PORT")
	if port == "" {
		return errors.New("scfinvoke: _LAMBDA_SERVER_PORT is not set; not on the SCF Go1 runtime")
	}
	// All interfaces: the platform's caller is not guaranteed to be loopback.
	lis, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", port))
	if err != nil {
		return fmt.Errorf("scfinvoke: listen: %w", err)
	}
	return Serve(lis, h, opts...)
}

// Serve answers Function.Ping and Function.Invoke on every connection lis
// accepts, until lis is closed (then it returns nil) or a handler panics.
// After a panic the reply carrying ShouldExit is flushed first, then lis is
// closed and Serve returns an error wrapping ErrHandlerPanic.
func Serve(lis net.Listener, h invoke.Handler, opts ...Option) error {
	if h == nil {
		return errors.New("scfinvoke: nil handler")
	}
	s := &server{h: h, log: slog.Default(), setenv: os.Setenv, lis: lis}
	for _, o := range opts {
		o(s)
	}
	rs := rpc.NewServer()
	if err := rs.RegisterName("Function", &function{s: s}); err != nil {
		return fmt.Errorf("scfinvoke: register: %w", err)
	}
	for {
		conn, err := lis.Accept()
		if err != nil {
			if perr := s.panicErr(); perr != nil {
				return perr
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("scfinvoke: accept: %w", err)
		}
		go rs.ServeCodec(newCodec(conn, s.afterReply))
	}
}

type server struct {
	h      invoke.Handler
	log    *slog.Logger
	setenv func(key, value string) error
	lis    net.Listener

	mu       sync.Mutex
	panicked error
}

func (s *server) panicErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.panicked
}

// afterReply runs once a reply is on the wire. A ShouldExit reply stops
// Serve: the instance's state is suspect after a panic.
func (s *server) afterReply(body any) {
	resp, ok := body.(*InvokeResponse)
	if !ok || resp.Error == nil || !resp.Error.ShouldExit {
		return
	}
	s.mu.Lock()
	if s.panicked == nil {
		s.panicked = fmt.Errorf("scfinvoke: %s: %w", resp.Error.Message, ErrHandlerPanic)
	}
	s.mu.Unlock()
	s.lis.Close()
}

// function is registered as the RPC service "Function". It must have no
// exported methods besides the two RPC methods, or net/rpc logs complaints.
type function struct{ s *server }

// Ping answers the platform's liveness check.
func (f *function) Ping(_ *PingRequest, resp *PingResponse) error {
	*resp = PingResponse{}
	return nil
}

// Invoke runs the handler. Failures travel in resp.Error; the RPC call
// itself always succeeds, as the platform expects.
func (f *function) Invoke(req *InvokeRequest, resp *InvokeResponse) error {
	*resp = f.s.invoke(req)
	return nil
}

func (s *server) invoke(req *InvokeRequest) InvokeResponse {
	log := s.log.With("request_id", req.RequestId, "function", req.FunctionName)
	env, err := parseEnvironment(req.Environment)
	if err != nil {
		log.Error("scf invoke rejected", "err", err)
		return InvokeResponse{Error: &InvokeError{Message: err.Error(), Type: "InvalidEnvironment"}}
	}
	// Before the handler: configuration and the role's credentials are only
	// delivered here, per invocation.
	for k, v := range env {
		if err := s.setenv(k, v); err != nil {
			err = fmt.Errorf("scfinvoke: apply environment variable %s: %w", k, err)
			log.Error("scf invoke rejected", "err", err)
			return InvokeResponse{Error: &InvokeError{Message: err.Error(), Type: "InvalidEnvironment"}}
		}
	}

	ctx := context.Background()
	var deadline time.Time
	if req.Deadline != (Timestamp{}) {
		deadline = time.Unix(req.Deadline.Seconds, req.Deadline.Nanos).UTC()
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	region := req.TencentcloudRegion
	if region == "" {
		region = env["TENCENTCLOUD_REGION"]
	}
	ctx = invoke.WithMeta(ctx, invoke.Meta{
		Platform:     invoke.PlatformSCF,
		RequestID:    req.RequestId,
		FunctionName: req.FunctionName,
		Region:       region,
		Deadline:     deadline,
		MemoryMB:     int(req.MemoryLimitInMb),
	})

	out, ierr := call(ctx, s.h, req.Payload)
	if ierr != nil {
		if ierr.ShouldExit {
			log.Error("scf handler panicked", "panic", ierr.Message, "stack", formatStack(ierr.StackTrace))
		} else {
			log.Error("scf handler failed", "err", ierr.Message, "type", ierr.Type)
		}
		return InvokeResponse{Error: ierr}
	}
	if len(out) == 0 {
		out = []byte("null") // a result-less handler still answers valid JSON
	}
	return InvokeResponse{Payload: out}
}

// call runs h, turning a returned error or a panic into an InvokeError.
func call(ctx context.Context, h invoke.Handler, payload []byte) (out []byte, ierr *InvokeError) {
	defer func() {
		if p := recover(); p != nil {
			ierr = &InvokeError{
				Message:    fmt.Sprint(p),
				Type:       typeName(p),
				StackTrace: panicStack(),
				ShouldExit: true,
			}
		}
	}()
	out, err := h(ctx, payload)
	if err != nil {
		return nil, &InvokeError{Message: err.Error(), Type: typeName(err)}
	}
	return out, nil
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

const maxStackFrames = 32

// panicStack returns the stack of the panicking goroutine from the frame
// that panicked, dropping the runtime's own panic machinery.
func panicStack() []*StackFrame {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(1, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var all []*StackFrame
	start := 0
	for {
		fr, more := frames.Next()
		if fr.Function == "runtime.gopanic" {
			start = len(all) + 1
		}
		all = append(all, &StackFrame{Path: fr.File, Line: int32(fr.Line), Label: label(fr.Function)})
		if !more {
			break
		}
	}
	all = all[start:]
	if len(all) > maxStackFrames {
		all = all[:maxStackFrames]
	}
	return all
}

// formatStack renders frames one per line for the log.
func formatStack(frames []*StackFrame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Label, f.Path, f.Line)
	}
	return b.String()
}

// label keeps the function name without its package path.
func label(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		fn = fn[i+1:]
	}
	return fn
}

// codec is net/rpc's gob wire format with a hook after each flushed reply,
// which the standard codec does not offer.
type codec struct {
	rwc        io.ReadWriteCloser
	dec        *gob.Decoder
	enc        *gob.Encoder
	buf        *bufio.Writer
	afterReply func(body any)
	closeOnce  sync.Once
	closeErr   error
}

func newCodec(conn io.ReadWriteCloser, afterReply func(body any)) *codec {
	buf := bufio.NewWriter(conn)
	return &codec{rwc: conn, dec: gob.NewDecoder(conn), enc: gob.NewEncoder(buf), buf: buf, afterReply: afterReply}
}

func (c *codec) ReadRequestHeader(r *rpc.Request) error { return c.dec.Decode(r) }

func (c *codec) ReadRequestBody(body any) error { return c.dec.Decode(body) }

func (c *codec) WriteResponse(r *rpc.Response, body any) error {
	if err := c.enc.Encode(r); err != nil {
		c.fail()
		return fmt.Errorf("scfinvoke: encode reply header: %w", err)
	}
	if err := c.enc.Encode(body); err != nil {
		c.fail()
		return fmt.Errorf("scfinvoke: encode reply body: %w", err)
	}
	if err := c.buf.Flush(); err != nil {
		c.fail()
		return fmt.Errorf("scfinvoke: flush reply: %w", err)
	}
	c.afterReply(body)
	return nil
}

// fail closes a connection whose gob stream is now out of step.
func (c *codec) fail() { c.Close() }

func (c *codec) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.rwc.Close() })
	return c.closeErr
}
