package cosemu

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backupflow/backupflow/internal/cossign"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/objstore"
)

// Options configure a Server.
type Options struct {
	// SecretID and SecretKey are the one key pair the emulator accepts.
	SecretID, SecretKey string
	// SessionToken, when set, must accompany every request signed with
	// SecretID, as it must for SCF role credentials. Empty accepts a token
	// or none (facts §A.2.4: an unsigned token is tolerated).
	SessionToken string
	// Dir, when set, keeps bucket <name> in <Dir>/<name>/ as plain files, so
	// a user can drop a file in; empty keeps objects in memory.
	Dir string
	// Now is the clock signatures are checked against; default time.Now.
	Now func() time.Time
	// Faults breaks a share of HTTP requests (not CheckURL); nil breaks none.
	Faults *fault.Injector
	// Buckets are the buckets that exist; default fixture.Default().Buckets.
	// With Dir set, every sub-directory of Dir is a bucket as well.
	Buckets []fixture.Bucket
}

// Size limits of one PUT: COS's single-request limit on disk, less in memory.
const (
	maxPutDir = 5 << 30
	maxPutMem = 256 << 20
)

// Server is an emulated COS endpoint. Safe for concurrent use.
type Server struct {
	o        Options
	store    store
	verifier *cossign.Verifier
	buckets  map[string]string // name -> region
	// versioning is each bucket's versioning status: "" (never set),
	// "Enabled" or "Suspended".
	versioning map[string]string
	verSeq     atomic.Uint64
	mu         sync.RWMutex // guards buckets and versioning
	reqSeq     atomic.Uint64
	// etags holds the ETags given with PutAs ("bucket/key" → ETag): an
	// object uploaded in parts has an ETag that is not its MD5.
	etags sync.Map
}

// etagOf is the object's ETag as COS reports it.
func (s *Server) etagOf(bucket string, m meta) string {
	if e, ok := s.etags.Load(bucket + "/" + m.key); ok {
		return e.(string)
	}
	return m.etag
}

// New builds a Server. With Dir set it creates <Dir>/<bucket>/ for every
// configured bucket; a failure there surfaces on the first request as an
// internal error, since New does no other I/O.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Buckets == nil {
		o.Buckets = fixture.Default().Buckets
	}
	s := &Server{o: o, buckets: map[string]string{}, versioning: map[string]string{}}
	for _, b := range o.Buckets {
		s.buckets[b.Name] = b.Region
	}
	if o.Dir != "" {
		for _, b := range o.Buckets {
			_ = os.MkdirAll(filepath.Join(o.Dir, b.Name), 0o755)
		}
		s.store = &dirStore{dir: o.Dir, max: maxPutDir}
	} else {
		s.store = newMemStore(maxPutMem)
	}
	s.verifier = &cossign.Verifier{
		Lookup: func(id string) (string, bool) {
			if id != "" && id == o.SecretID {
				return o.SecretKey, true
			}
			return "", false
		},
	}
	if o.SessionToken != "" {
		s.verifier.Token = func(string) (string, bool) { return o.SessionToken, true }
	}
	return s
}

// bucketRegion reports whether bucket exists and its region ("" when it is
// a directory a user created without configuring it).
func (s *Server) bucketRegion(bucket string) (string, bool) {
	s.mu.RLock()
	region, ok := s.buckets[bucket]
	s.mu.RUnlock()
	if ok {
		return region, true
	}
	if s.o.Dir != "" && bucket != "" && !strings.ContainsAny(bucket, `/\`) && bucket != "." && bucket != ".." {
		if fi, err := os.Stat(filepath.Join(s.o.Dir, bucket)); err == nil && fi.IsDir() {
			return "", true
		}
	}
	return "", false
}

// hostPattern matches the virtual-hosted COS domains the SDK builds.
var hostPattern = regexp.MustCompile(`^([a-z0-9][a-z0-9-]*)\.cos\.([a-z0-9-]+)\.(?:myqcloud\.com|tencentcos\.cn)$`)

// target is the bucket and key a request addresses.
type target struct {
	bucket, region, key string
	pathStyle           bool
}

// resolve finds the bucket from the Host ("<bucket>.cos.<region>.myqcloud.com")
// or, for any other host, from the first path segment ("/<bucket>/<key>").
// The key is the decoded path without its first "/", so "/%2Flead/x" names
// the key "/lead/x" as the SDK means it.
func resolve(host, decodedPath string) (target, *Error) {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(h)
	if m := hostPattern.FindStringSubmatch(h); m != nil {
		return target{bucket: m[1], region: m[2], key: strings.TrimPrefix(decodedPath, "/")}, nil
	}
	p := strings.TrimPrefix(decodedPath, "/")
	bucket, key, _ := strings.Cut(p, "/")
	if bucket == "" {
		return target{}, &Error{Status: http.StatusBadRequest, Code: "InvalidURI",
			Message: "no bucket in the host or the path"}
	}
	return target{bucket: bucket, key: key, pathStyle: true}, nil
}

// Error is a COS error as the emulator answers it. It never carries a URL,
// a signature or a token.
type Error struct {
	Status  int
	Code    string
	Message string
	Bucket  string
	Key     string
	Err     error // the cossign error for signature failures
}

func (e *Error) Error() string {
	s := fmt.Sprintf("cos %d %s: %s", e.Status, e.Code, e.Message)
	if e.Bucket != "" {
		s += " (bucket " + e.Bucket
		if e.Key != "" {
			s += ", key " + e.Key
		}
		s += ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func signatureError(err error) *Error {
	var se *cossign.Error
	if errors.As(err, &se) {
		return &Error{Status: http.StatusForbidden, Code: se.Code, Message: se.Message, Err: err}
	}
	return &Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied.", Err: err}
}

func noSuchBucket(b string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist.", Bucket: b}
}

func noSuchKey(b, k string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NoSuchKey", Message: "The specified key does not exist.", Bucket: b, Key: k}
}

func internalError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "We encountered an internal error. Please try again.", Err: err}
}

func (s *Server) requestID() string {
	return fmt.Sprintf("NjU%013x", s.reqSeq.Add(1))
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
	TraceID   string `xml:"TraceId"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, e *Error) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	resource := r.Host + r.URL.Path // never the query: it holds the signature
	body, _ := xml.Marshal(errorBody{Code: e.Code, Message: e.Message, Resource: resource, RequestID: reqID, TraceID: reqID})
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// ServeHTTP serves the COS XML API subset the project uses.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	w.Header().Set("x-cos-request-id", reqID)
	w.Header().Set("Server", "tencent-cos")

	switch s.o.Faults.Next(false) {
	case fault.InternalError, fault.Busy:
		s.writeError(w, r, reqID, internalError(nil))
		return
	case fault.ServerError:
		fault.ServeGatewayError(w)
		return
	case fault.Drop:
		fault.DropConnection(w)
		return
	case fault.Throttle:
		s.writeError(w, r, reqID, &Error{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."})
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

	if e := s.serve(w, r); e != nil {
		s.writeError(w, r, reqID, e)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) *Error {
	t, e := resolve(r.Host, r.URL.Path)
	if e != nil {
		return e
	}
	if err := s.verifier.Verify(r, s.o.Now()); err != nil {
		e := signatureError(err)
		e.Bucket, e.Key = t.bucket, t.key
		return e
	}
	region, ok := s.bucketRegion(t.bucket)
	if !ok || (!t.pathStyle && region != "" && region != t.region) {
		return noSuchBucket(t.bucket)
	}
	if t.key == "" {
		if _, ok := r.URL.Query()["versioning"]; ok {
			return s.bucketVersioning(w, r, t.bucket)
		}
		switch r.Method {
		case http.MethodGet:
			return s.listBucket(w, r, t.bucket)
		case http.MethodHead:
			w.WriteHeader(http.StatusOK)
			return nil
		}
		return &Error{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource."}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return s.getObject(w, r, t)
	case http.MethodPut:
		return s.putObject(w, r, t)
	case http.MethodDelete:
		if err := s.store.delete(t.bucket, t.key); err != nil {
			return internalError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return &Error{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource."}
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, t target) *Error {
	f, m, err := s.store.open(t.bucket, t.key)
	if errors.Is(err, errNoKey) {
		return noSuchKey(t.bucket, t.key)
	}
	if err != nil {
		return internalError(err)
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", `"`+s.etagOf(t.bucket, m)+`"`)
	h.Set("x-cos-hash-crc64ecma", m.crc64)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("x-cos-storage-class", "STANDARD")
	// ServeContent answers HEAD, Range (206/416) and conditional requests.
	http.ServeContent(w, r, "", m.modTime, f)
	return nil
}

// SetVersioning sets a bucket's versioning status ("Enabled", "Suspended"),
// as PUT Bucket versioning does.
func (s *Server) SetVersioning(bucket, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versioning[bucket] = status
}

func (s *Server) versioningOf(bucket string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.versioning[bucket]
}

type versioningConfig struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	Status  string   `xml:"Status,omitempty"`
}

// bucketVersioning serves GET and PUT Bucket versioning. A bucket whose
// versioning was never set answers an empty configuration, as COS does.
func (s *Server) bucketVersioning(w http.ResponseWriter, r *http.Request, bucket string) *Error {
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/xml")
		return writeXML(w, versioningConfig{Status: s.versioningOf(bucket)})
	case http.MethodPut:
		var c versioningConfig
		if err := xml.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&c); err != nil || (c.Status != "Enabled" && c.Status != "Suspended") {
			return &Error{Status: http.StatusBadRequest, Code: "MalformedXML", Message: "Status must be Enabled or Suspended.", Bucket: bucket}
		}
		s.SetVersioning(bucket, c.Status)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return &Error{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource."}
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, t target) *Error {
	forbid := strings.EqualFold(r.Header.Get("x-cos-forbid-overwrite"), "true")
	ver := s.versioningOf(t.bucket)
	if ver != "" {
		// COS documents forbid-overwrite as refusing a PUT that would
		// overwrite; on a versioned bucket a PUT adds a version and
		// overwrites nothing, and COS does not say it honours the header
		// there. The emulator takes the unsafe reading (as IBM COS, which
		// accepts the same header, documents for versioned buckets): the
		// header is ignored, so code that relies on it fails here too.
		forbid = false
	}
	if forbid {
		// Refuse before reading a possibly large body.
		if _, err := s.store.head(t.bucket, t.key); err == nil {
			return exists(t)
		}
	}
	m, err := s.store.put(t.bucket, t.key, r.Body, forbid, s.o.Now())
	if err == nil {
		s.etags.Delete(t.bucket + "/" + t.key)
	}
	switch {
	case errors.Is(err, errExists):
		return exists(t)
	case errors.Is(err, errTooLarge):
		return &Error{Status: http.StatusBadRequest, Code: "EntityTooLarge", Message: "Your proposed upload exceeds the maximum allowed object size.", Bucket: t.bucket, Key: t.key}
	case errors.Is(err, errBadKey):
		return &Error{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: "This emulator keeps objects as files; the key is not a plain relative path.", Bucket: t.bucket, Key: t.key}
	case err != nil:
		return internalError(err)
	}
	w.Header().Set("ETag", `"`+m.etag+`"`)
	w.Header().Set("x-cos-hash-crc64ecma", m.crc64)
	if ver == "Enabled" {
		w.Header().Set("x-cos-version-id", fmt.Sprintf("MTg0NDUx%016d", s.verSeq.Add(1)))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// exists is the answer to a forbidden overwrite. The code is an assumption:
// COS documents the header but we found no published error code for it.
func exists(t target) *Error {
	return &Error{Status: http.StatusConflict, Code: "FileAlreadyExists", Message: "The object already exists and x-cos-forbid-overwrite is true.", Bucket: t.bucket, Key: t.key}
}

type listResult struct {
	XMLName     xml.Name `xml:"ListBucketResult"`
	Name        string
	Prefix      string
	Marker      string
	NextMarker  string `xml:",omitempty"`
	MaxKeys     int
	IsTruncated bool
	Contents    []listEntry
}

type listEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

func (s *Server) listBucket(w http.ResponseWriter, r *http.Request, bucket string) *Error {
	q := r.URL.Query()
	prefix, marker := q.Get("prefix"), q.Get("marker")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &Error{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: "max-keys must be a non-negative integer.", Bucket: bucket}
		}
		maxKeys = min(n, 1000)
	}
	all, err := s.store.list(bucket, prefix)
	if err != nil {
		return internalError(err)
	}
	res := listResult{Name: bucket, Prefix: prefix, Marker: marker, MaxKeys: maxKeys}
	for _, m := range all {
		if m.key <= marker {
			continue
		}
		if len(res.Contents) == maxKeys {
			res.IsTruncated = true
			break
		}
		res.Contents = append(res.Contents, listEntry{Key: m.key, LastModified: m.modTime.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: `"` + s.etagOf(bucket, m) + `"`, Size: m.size, StorageClass: "STANDARD"})
	}
	if res.IsTruncated && len(res.Contents) > 0 {
		res.NextMarker = res.Contents[len(res.Contents)-1].Key
	}
	body, err := xml.Marshal(res)
	if err != nil {
		return internalError(err)
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
	return nil
}

// Put stores an object without a signature, for tests and local setup. The
// bucket must exist.
func (s *Server) Put(bucket, key string, data []byte) error {
	if _, ok := s.bucketRegion(bucket); !ok {
		return noSuchBucket(bucket)
	}
	if key == "" {
		return fmt.Errorf("cosemu: put %s: empty key", bucket)
	}
	if _, err := s.store.put(bucket, key, bytes.NewReader(data), false, s.o.Now()); err != nil {
		return fmt.Errorf("cosemu: put %s/%s: %w", bucket, key, err)
	}
	s.etags.Delete(bucket + "/" + key)
	return nil
}

// PutAs stores an object as an upload that COS answered with etag (quotes
// optional): what a test needs to seed the object an event describes, a
// multipart upload's "<md5>-<parts>" included. Empty etag is Put.
func (s *Server) PutAs(bucket, key string, data []byte, etag string) error {
	if err := s.Put(bucket, key, data); err != nil {
		return err
	}
	if etag = strings.Trim(etag, `"`); etag != "" {
		s.etags.Store(bucket+"/"+key, etag)
	}
	return nil
}

// CheckURL is the in-process "download" the SQL Server import emulator does
// with a BackupFiles URL: the signature and its window, the object's
// existence and its first bytes (TAPE or MSSQLBAK), without an HTTP round
// trip. The error is an *Error (or wraps objstore's magic check) and never
// contains the URL.
func (s *Server) CheckURL(ctx context.Context, rawURL string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cosemu: check url: %w", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// url.Parse's error quotes the URL, so it is not wrapped.
		return &Error{Status: http.StatusBadRequest, Code: "InvalidURI", Message: "not an http(s) COS object URL"}
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}, RequestURI: u.RequestURI()}
	r = r.WithContext(ctx)
	t, e := resolve(u.Host, u.Path)
	if e != nil {
		return e
	}
	if err := s.verifier.Verify(r, s.o.Now()); err != nil {
		e := signatureError(err)
		e.Bucket, e.Key = t.bucket, t.key
		return e
	}
	region, ok := s.bucketRegion(t.bucket)
	if !ok || (!t.pathStyle && region != "" && region != t.region) {
		return noSuchBucket(t.bucket)
	}
	if t.key == "" {
		return &Error{Status: http.StatusBadRequest, Code: "InvalidURI", Message: "the URL names a bucket, not an object", Bucket: t.bucket}
	}
	f, _, err := s.store.open(t.bucket, t.key)
	if errors.Is(err, errNoKey) {
		return noSuchKey(t.bucket, t.key)
	}
	if err != nil {
		return internalError(err)
	}
	defer f.Close()
	head := make([]byte, objstore.MagicLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return internalError(err)
	}
	if err := objstore.CheckBackupMagic(head[:n]); err != nil {
		return fmt.Errorf("cosemu: %s/%s: %w", t.bucket, t.key, err)
	}
	return nil
}

func writeXML(w http.ResponseWriter, v any) *Error {
	body, err := xml.Marshal(v)
	if err != nil {
		return internalError(err)
	}
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
	return nil
}
