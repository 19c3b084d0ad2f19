package s3store

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/driver"
	"github.com/backupflow/backupflow/pkg/sigv4"
)

// Store is an object store on S3, spoken over HTTP with pkg/sigv4: six
// REST calls did not need the SDK, whose init the Lambda cold start paid
// for (docs/benchmarks.md). The S3 fake checks every signature with the
// SDK's own signer, and interop runs the store on a third-party server.
// Safe for concurrent use.
type Store struct {
	hc        *http.Client
	signer    sigv4.Signer
	endpoint  *url.URL // nil: AWS
	region    string
	pathStyle bool
}

// New validates cfg and builds the store; it does no I/O.
func New(cfg Config) (*Store, error) {
	if cfg.Region == "" {
		return nil, errors.New("objstore: s3: no region")
	}
	if cfg.AccessKeyID == "" || !cfg.SecretAccessKey.IsSet() {
		return nil, errors.New("objstore: s3: no credentials")
	}
	s := &Store{hc: cfg.HTTPClient, region: cfg.Region, pathStyle: cfg.UsePathStyle || cfg.Endpoint != "",
		signer: sigv4.Signer{Service: "s3", Region: cfg.Region, Credentials: sigv4.Credentials{
			AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey.Reveal(), SessionToken: cfg.SessionToken.Reveal()}}}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: time.Minute}
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.Endpoint, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("objstore: s3: endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
		}
		s.endpoint = u
	}
	return s, nil
}

// objectURL addresses bucket/key: path-style on an endpoint (and for bucket
// names with dots, which a virtual host's TLS certificate cannot cover),
// virtual-hosted on AWS otherwise. The key is escaped once, as S3 signs it.
func (s *Store) objectURL(bucket, key string, query url.Values) (*url.URL, error) {
	if bucket == "" {
		return nil, apierr.Invalid("objstore: s3: empty bucket name")
	}
	u := &url.URL{Scheme: "https", Host: "s3." + s.region + ".amazonaws.com"}
	if s.endpoint != nil {
		u.Scheme, u.Host, u.Path = s.endpoint.Scheme, s.endpoint.Host, s.endpoint.Path
	}
	switch {
	case (s.pathStyle || strings.Contains(bucket, ".")) && key == "":
		u.Path += "/" + bucket // a bucket operation, as the SDK sends it
	case s.pathStyle || strings.Contains(bucket, "."):
		u.Path += "/" + bucket + "/" + key
	default:
		u.Host = bucket + "." + u.Host
		u.Path += "/" + key
	}
	// RawPath makes EscapedPath (what is sent and signed) escape every byte
	// outside RFC 3986's unreserved set but '/'.
	u.RawPath = escapePath(u.Path)
	u.RawQuery = strings.ReplaceAll(query.Encode(), "+", "%20")
	return u, nil
}

// escapePath is S3's URI encoding of a path: every byte but A–Z a–z 0–9
// - . _ ~ and '/' as %XX.
func escapePath(p string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// do sends one signed request and returns the answer when it is a 2xx;
// the caller closes its body.
func (s *Store) do(ctx context.Context, action, method, bucket, key string, query url.Values, header http.Header, body []byte) (*http.Response, error) {
	if key == "" && action != "ListObjectsV2" {
		// Addressed as the bucket itself it would be DeleteBucket,
		// CreateBucket or a listing read as the object.
		return nil, apierr.Invalid("objstore: s3 %s %s: empty key", action, bucket)
	}
	u, err := s.objectURL(bucket, key, query)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 %s %s/%s: %w", action, bucket, key, err)
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// Asked for nothing, net/http asks for gzip and un-gzips the answer: an
	// object stored gzip-encoded would read as other bytes than stored.
	req.Header.Set("Accept-Encoding", "identity")
	hash := sigv4.PayloadHash(body)
	req.Header.Set("X-Amz-Content-Sha256", hash)
	s.signer.Sign(req, hash, time.Now())
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 %s %s/%s: %w", action, bucket, key, driver.TransportErr(err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, s3Error(action, bucket, key, resp)
	}
	return resp, nil
}

// Presign returns a GET URL valid for ttl (default an hour, at most two).
// SigV4 fixes the start at signing time with the wall clock; unlike COS the
// window cannot be backdated. The URL is a secret: never log it.
func (s *Store) Presign(_ context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if key == "" {
		return "", apierr.Invalid("objstore: s3 presign %s: empty key", bucket)
	}
	u, err := s.objectURL(bucket, key, nil)
	if err != nil {
		return "", err
	}
	return s.signer.Presign(u, driver.PresignTTL(ttl), time.Now()), nil
}

// Head returns the object's size, ETag (unquoted) and version id.
func (s *Store) Head(ctx context.Context, bucket, key string) (objstore.Object, error) {
	resp, err := s.do(ctx, "HeadObject", http.MethodHead, bucket, key, nil, nil, nil)
	if err != nil {
		return objstore.Object{}, err
	}
	resp.Body.Close()
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil {
		return objstore.Object{}, fmt.Errorf("objstore: s3 head %s/%s: no Content-Length in the answer: %w", bucket, key, apierr.ErrAmbiguous)
	}
	return objstore.Object{Bucket: bucket, Key: key, ETag: strings.Trim(resp.Header.Get("ETag"), `"`),
		VersionID: resp.Header.Get("X-Amz-Version-Id"), Size: size}, nil
}

// ReadMagic returns the first objstore.MagicLen bytes with a Range GET.
func (s *Store) ReadMagic(ctx context.Context, bucket, key string) ([]byte, error) {
	h := http.Header{"Range": {fmt.Sprintf("bytes=0-%d", objstore.MagicLen-1)}}
	return s.get(ctx, bucket, key, h, objstore.MagicLen)
}

// Get reads a small object whole (at most 16 MiB).
func (s *Store) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	b, err := s.get(ctx, bucket, key, nil, driver.MaxGet+1)
	if err == nil && len(b) > driver.MaxGet {
		return nil, fmt.Errorf("objstore: s3 get %s/%s: larger than %d bytes", bucket, key, driver.MaxGet)
	}
	return b, err
}

func (s *Store) get(ctx context.Context, bucket, key string, h http.Header, limit int64) ([]byte, error) {
	resp, err := s.do(ctx, "GetObject", http.MethodGet, bucket, key, nil, h, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 read %s/%s: %w", bucket, key, driver.TransportErr(err))
	}
	return b, nil
}

// Put writes data. With ifAbsent it sends If-None-Match: * and returns
// objstore.ErrExists when S3 answers 412; S3 decides atomically.
func (s *Store) Put(ctx context.Context, bucket, key string, data []byte, ifAbsent bool) error {
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if ifAbsent {
		h.Set("If-None-Match", "*")
	}
	resp, err := s.do(ctx, "PutObject", http.MethodPut, bucket, key, nil, h, data)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
	return resp.Body.Close()
}

// Delete removes the object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	resp, err := s.do(ctx, "DeleteObject", http.MethodDelete, bucket, key, nil, nil, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// listPage is the part of a ListObjectsV2 answer the store reads.
type listPage struct {
	IsTruncated           bool
	NextContinuationToken string
	Contents              []struct {
		Key, ETag string
		Size      int64
	}
}

// List returns every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]objstore.Object, error) {
	var out []objstore.Object
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		resp, err := s.do(ctx, "ListObjectsV2", http.MethodGet, bucket, "", q, nil, nil)
		if err != nil {
			return nil, err
		}
		var page listPage
		err = xml.NewDecoder(io.LimitReader(resp.Body, driver.MaxGet)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("objstore: s3 list %s/%s: decode the answer: %w", bucket, prefix, driver.TransportErr(err))
		}
		for _, o := range page.Contents {
			out = append(out, objstore.Object{Bucket: bucket, Key: o.Key, ETag: strings.Trim(o.ETag, `"`), Size: o.Size})
		}
		if !page.IsTruncated {
			return out, nil
		}
		if page.NextContinuationToken == "" || page.NextContinuationToken == token {
			return nil, fmt.Errorf("objstore: s3 list %s/%s: a truncated page without a new continuation token", bucket, prefix)
		}
		token = page.NextContinuationToken
	}
}

// s3Error turns a refusal into an *apierr.Error. A HEAD's answer has no
// body, and a gateway's has no S3 error document: the status names them.
func s3Error(action, bucket, key string, resp *http.Response) error {
	status := resp.StatusCode
	var doc struct{ Code, Message string }
	if xml.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&doc) != nil || doc.Code == "" {
		doc.Code, doc.Message = driver.CodeForStatus(status), ""
	}
	var sentinel error
	kind := driver.Kind(status, doc.Code)
	switch status {
	case http.StatusNotFound:
		sentinel = objstore.ErrNotFound
	case http.StatusPreconditionFailed:
		sentinel = objstore.ErrExists
	case http.StatusConflict:
		// ConditionalRequestConflict: a concurrent conditional write is
		// in flight; S3 asks to retry, nobody has won yet.
		kind = apierr.RetryLater
	}
	ae := &apierr.Error{Cloud: "aws", Service: "s3", Action: action, Code: doc.Code, Message: doc.Message,
		RequestID: resp.Header.Get("X-Amz-Request-Id"), HTTPStatus: status, Kind: kind, Err: sentinel}
	return fmt.Errorf("objstore: s3 %s/%s: %w", bucket, key, ae)
}

var _ objstore.Store = (*Store)(nil)
