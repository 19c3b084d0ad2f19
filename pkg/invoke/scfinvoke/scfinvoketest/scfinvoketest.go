package scfinvoketest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
)

// Client calls a function's net/rpc server as the platform does.
type Client struct {
	rpc *rpc.Client
	n   atomic.Int64
}

// Dial connects to a function serving the protocol on addr, retrying until
// it answers Function.Ping or ctx ends (a process takes a moment to listen).
func Dial(ctx context.Context, addr string) (*Client, error) {
	var last error
	for {
		c, err := rpc.Dial("tcp", addr)
		if err == nil {
			if err = c.Call("Function.Ping", scfinvoke.PingRequest{}, &scfinvoke.PingResponse{}); err == nil {
				return &Client{rpc: c}, nil
			}
			c.Close()
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("scfinvoketest: %s never answered Function.Ping: %w", addr, last)
		case <-time.After(time.Millisecond): // short: cold starts are measured through it (footprint)
		}
	}
}

// Ping calls Function.Ping.
func (c *Client) Ping() error {
	return c.rpc.Call("Function.Ping", scfinvoke.PingRequest{}, &scfinvoke.PingResponse{})
}

// Request is an invocation of payload with the function's environment (SCF
// sends it with every invocation) and a deadline timeout from now; the
// request id is unique per client.
func (c *Client) Request(payload []byte, env map[string]string, timeout time.Duration) scfinvoke.InvokeRequest {
	envJSON, _ := json.Marshal(env)
	if env == nil {
		envJSON = []byte("{}")
	}
	dl := time.Now().Add(timeout)
	return scfinvoke.InvokeRequest{Payload: payload, RequestId: "req-" + strconv.FormatInt(c.n.Add(1), 10),
		Deadline: scfinvoke.Timestamp{Seconds: dl.Unix(), Nanos: int64(dl.Nanosecond())}, Environment: string(envJSON),
		Namespace: "default", FunctionVersion: "$LATEST", TimeLimitInMs: int32(timeout / time.Millisecond), MemoryLimitInMb: 64,
		TencentcloudRegion: env["TENCENTCLOUD_REGION"]}
}

// Invoke calls Function.Invoke with req. The error is a transport failure;
// a failed invocation comes back in the response's Error, as on SCF.
func (c *Client) Invoke(ctx context.Context, req scfinvoke.InvokeRequest) (*scfinvoke.InvokeResponse, error) {
	var resp scfinvoke.InvokeResponse
	call := c.rpc.Go("Function.Invoke", req, &resp, nil)
	select {
	case <-call.Done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call.Error != nil {
		return nil, fmt.Errorf("scfinvoketest: Function.Invoke: %w", call.Error)
	}
	return &resp, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.rpc.Close() }

// Process is a function binary running as SCF runs it.
type Process struct {
	*Client
	Cmd  *exec.Cmd
	done chan struct{}
}

// Start runs bin with _LAMBDA_SERVER_PORT set to a free port (plus env,
// over the process environment), its output to out, and connects once it
// answers Function.Ping.
func Start(ctx context.Context, bin string, env []string, out io.Writer) (*Process, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), env...), "_LAMBDA_SERVER_PORT="+port)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel() // exited before it listened
		case <-dctx.Done():
		}
	}()
	if p.Client, err = Dial(dctx, "127.0.0.1:"+port); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill ends the process at once (as a platform reclaiming an instance
// would) and waits for it.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
	if p.Client != nil {
		p.Client.Close()
	}
}
