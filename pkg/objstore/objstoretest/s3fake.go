package objstoretest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Request is the shape of one request the fake received.
type Request struct {
	Method      string
	Bucket, Key string
	IfNoneMatch string
	Range       string
}

// S3 is an in-memory, path-style S3 endpoint. Buckets spring into existence
// on first write. Safe for concurrent use.
type S3 struct {
	mu       sync.Mutex
	objects  map[string][]byte // "bucket/key"
	requests []Request
	seq      int
}

// NewS3 returns an empty fake.
func NewS3() *S3 { return &S3{objects: map[string][]byte{}} }

// Requests returns what the fake has received so far.
func (f *S3) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// PutObject stores data directly.
func (f *S3) PutObject(bucket, key string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[bucket+"/"+key] = append([]byte(nil), data...)
}

type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	RequestID string `xml:"RequestId"`
}

func (f *S3) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		b, _ := xml.Marshal(s3Error{Code: code, Message: msg, RequestID: w.Header().Get("x-amz-request-id")})
		_, _ = w.Write(b)
	}
}

func etag(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// ServeHTTP answers the S3 subset objstore uses.
func (f *S3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seq++
	w.Header().Set("x-amz-request-id", fmt.Sprintf("FAKE%08d", f.seq))
	f.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		f.fail(w, r, http.StatusForbidden, "AccessDenied", "request is not SigV4-signed")
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	f.requests = append(f.requests, Request{Method: r.Method, Bucket: bucket, Key: key,
		IfNoneMatch: r.Header.Get("If-None-Match"), Range: r.Header.Get("Range")})
	f.mu.Unlock()
	if key == "" && r.Method == http.MethodGet {
		f.list(w, r, bucket)
		return
	}
	id := bucket + "/" + key
	switch r.Method {
	case http.MethodHead, http.MethodGet:
		f.mu.Lock()
		b, ok := f.objects[id]
		f.mu.Unlock()
		if !ok {
			f.fail(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		}
		w.Header().Set("ETag", etag(b))
		http.ServeContent(w, r, "", time.Unix(0, 0), bytes.NewReader(b))
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			f.fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		f.mu.Lock()
		_, exists := f.objects[id]
		if exists && r.Header.Get("If-None-Match") == "*" {
			f.mu.Unlock()
			f.fail(w, r, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return
		}
		f.objects[id] = body
		f.mu.Unlock()
		w.Header().Set("ETag", etag(body))
	case http.MethodDelete:
		f.mu.Lock()
		delete(f.objects, id)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		f.fail(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "method not allowed")
	}
}

type listResult struct {
	XMLName     xml.Name `xml:"ListBucketResult"`
	Name        string
	Prefix      string
	KeyCount    int
	MaxKeys     int
	IsTruncated bool
	Contents    []listEntry
}

type listEntry struct {
	Key  string
	ETag string
	Size int64
}

func (f *S3) list(w http.ResponseWriter, r *http.Request, bucket string) {
	prefix := r.URL.Query().Get("prefix")
	res := listResult{Name: bucket, Prefix: prefix, MaxKeys: 1000}
	f.mu.Lock()
	for id, b := range f.objects {
		k, ok := strings.CutPrefix(id, bucket+"/")
		if ok && strings.HasPrefix(k, prefix) {
			res.Contents = append(res.Contents, listEntry{Key: k, ETag: etag(b), Size: int64(len(b))})
		}
	}
	f.mu.Unlock()
	sort.Slice(res.Contents, func(i, j int) bool { return res.Contents[i].Key < res.Contents[j].Key })
	res.KeyCount = len(res.Contents)
	b, _ := xml.Marshal(res)
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(b)
}
