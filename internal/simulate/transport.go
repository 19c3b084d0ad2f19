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
type inProcess struct {
	h http.Handler
}

// errDropped is what a client sees when the emulator drops a connection.
var errDropped = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer (emulated drop)")}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
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
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		sreq.Body = io.NopCloser(bytes.NewReader(b))
		sreq.ContentLength = int64(len(b))
	} else {
		sreq.Body = http.NoBody
	}
	// A recorder per exchange: the response takes its header and body as
	// they are, with no copy.
	w := &recorder{header: http.Header{}}
	t.h.ServeHTTP(w, sreq)
	if w.hijacked {
		return nil, errDropped
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	body := w.body.Bytes()
	resp := &http.Response{
		Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}
	return resp, nil
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
