package simulate

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
)

// inProcess is an http.RoundTripper that serves each request with an
// http.Handler in the caller's goroutine. It skips sockets, connection
// pools and the server's goroutines, which would otherwise dominate a
// simulation of hundreds of thousands of calls, and keeps everything above
// the transport (SDK signing, JSON, error handling) unchanged.
//
// It keeps the one behaviour of net/http's Transport that changes what a
// caller sees: a replayable request (GET, HEAD, …) whose answer is lost on
// a reused keep-alive connection is sent once more on a new connection
// before any error reaches the caller. The emulator's dropped connection
// is such a loss, so Huawei's GETs are retried, as over a real socket,
// and the API 3.0 POSTs never are.
type inProcess struct {
	h http.Handler
	// reused: the previous exchange left a keep-alive connection to reuse
	// (sequential calls hold one). Shared by copies; the loop is sequential.
	reused *bool
}

func newInProcess(h http.Handler) inProcess { return inProcess{h: h, reused: new(bool)} }

// errDropped is what a client sees when the emulator drops a connection.
var errDropped = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer (emulated drop)")}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	resp, ok := t.serve(req, body)
	if !ok && *t.reused && replayable(req) {
		resp, ok = t.serve(req, body) // the Transport's retry, on a new connection
	}
	*t.reused = ok
	if !ok {
		return nil, errDropped
	}
	return resp, nil
}

// replayable is net/http's rule for a request it may send again.
func replayable(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
}

// serve runs the handler once; ok is false when it dropped the connection.
func (t inProcess) serve(req *http.Request, body []byte) (*http.Response, bool) {
	// A shallow copy, not Clone: the emulator only reads the request, and
	// the deep copy of its headers was most of this transport's cost.
	sreq := new(http.Request)
	*sreq = *req
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"
	if req.Body != nil {
		sreq.Body = io.NopCloser(bytes.NewReader(body))
		sreq.ContentLength = int64(len(body))
	} else {
		sreq.Body = http.NoBody
	}
	// A recorder per exchange: the response takes its header and body as
	// they are, with no copy.
	w := &recorder{header: http.Header{}}
	t.h.ServeHTTP(w, sreq)
	if w.hijacked {
		return nil, false
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	b := w.body.Bytes()
	return &http.Response{
		Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)), Request: req,
	}, true
}

// recorder is a minimal ResponseWriter; it can be hijacked so the emulator's
// dropped-connection fault surfaces as a transport error, as on a socket.
type recorder struct {
	header   http.Header
	body     bytes.Buffer
	code     int
	hijacked bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.hijacked = true
	a, b := net.Pipe()
	_ = b.Close()
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}
