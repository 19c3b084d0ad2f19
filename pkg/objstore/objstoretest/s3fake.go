package objstoretest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/sigcheck"
	"github.com/backupflow/backupflow/pkg/sigv4"
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
	// MaxKeys is the page size of a list (default 1000, as S3's).
	MaxKeys int

	key      sigcheck.Key // with a Secret, signatures are recomputed
	mu       sync.Mutex
	objects  map[string][]byte // "bucket/key"
	requests []Request
	seq      int
}

// NewS3 returns an empty fake.
func NewS3() *S3 { return &S3{objects: map[string][]byte{}} }

// CheckSignatures makes the fake refuse a request not signed by keyID with
// secret, recomputing each signature with aws-sdk-go-v2's own signer, and
// one whose X-Amz-Content-Sha256 is not its body's.
func (f *S3) CheckSignatures(keyID, secret string) { f.key = sigcheck.Key{ID: keyID, Secret: secret} }

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
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if _, err := sigcheck.Verify(r, hash, "s3", f.key, false); err != nil {
		code := "SignatureDoesNotMatch"
		if errors.Is(err, sigcheck.ErrUnsigned) || errors.Is(err, sigcheck.ErrUnknownKey) {
			code = "AccessDenied"
		}
		f.fail(w, r, http.StatusForbidden, code, err.Error())
		return
	}
	if f.key.Secret != "" && hash != sigv4.PayloadHash(body) {
		f.fail(w, r, http.StatusBadRequest, "XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 header does not match what was computed")
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
	// NextContinuationToken is set on a truncated page.
	NextContinuationToken string `xml:",omitempty"`
	Contents              []listEntry
}

type listEntry struct {
	Key  string
	ETag string
	Size int64
}

func (f *S3) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("continuation-token")
	res := listResult{Name: bucket, Prefix: prefix, MaxKeys: 1000}
	if f.MaxKeys > 0 {
		res.MaxKeys = f.MaxKeys
	}
	f.mu.Lock()
	for id, b := range f.objects {
		k, ok := strings.CutPrefix(id, bucket+"/")
		if ok && strings.HasPrefix(k, prefix) && k > after {
			res.Contents = append(res.Contents, listEntry{Key: k, ETag: etag(b), Size: int64(len(b))})
		}
	}
	f.mu.Unlock()
	sort.Slice(res.Contents, func(i, j int) bool { return res.Contents[i].Key < res.Contents[j].Key })
	if len(res.Contents) > res.MaxKeys {
		// The token is the last key returned: opaque to the client.
		res.Contents = res.Contents[:res.MaxKeys]
		res.IsTruncated, res.NextContinuationToken = true, res.Contents[res.MaxKeys-1].Key
	}
	res.KeyCount = len(res.Contents)
	b, _ := xml.Marshal(res)
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(b)
}
