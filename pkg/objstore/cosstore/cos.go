package cosstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tencentyun/cos-go-sdk-v5"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/driver"
)

// presignBackdate absorbs clock skew between us and the downloader (S3's
// presigner cannot backdate).
const presignBackdate = 60 * time.Second

// Store is an object store on COS over cos-go-sdk-v5. Safe for concurrent use.
type Store struct {
	cfg     Config
	scheme  string // of request URLs: https, or the emulator's scheme
	base    http.RoundTripper
	timeout time.Duration
	clients sync.Map // "scheme|bucket" -> *cos.Client
}

var regionPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9-]+$`) })

// New validates cfg and builds the store; it does no I/O.
func New(cfg Config) (*Store, error) {
	if cfg.Credentials.SecretID == "" || !cfg.Credentials.SecretKey.IsSet() {
		return nil, errors.New("objstore: cos: no credentials")
	}
	if !regionPattern().MatchString(cfg.Region) {
		return nil, fmt.Errorf("objstore: cos: invalid region %q", cfg.Region)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Store{cfg: cfg, scheme: "https"}
	var base http.RoundTripper = http.DefaultTransport
	if cfg.HTTPClient != nil {
		c.timeout = cfg.HTTPClient.Timeout
		if cfg.HTTPClient.Transport != nil {
			base = cfg.HTTPClient.Transport
		}
	}
	if cfg.Endpoint != "" {
		scheme, addr, err := parseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		c.scheme = scheme
		if t, ok := base.(*http.Transport); ok {
			t = t.Clone()
			t.Proxy = nil
			d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
			// Whatever COS host the request names, connect to the emulator.
			t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			}
			base = t
		} else {
			// A wrapped transport cannot be given a dialer; send each
			// request to addr and keep the COS host in the Host header,
			// which is what the signature and the emulator read.
			base = &toEndpoint{addr: addr, next: base}
		}
	}
	c.base = base
	return c, nil
}

// toEndpoint sends every request to addr, whatever COS host it names.
type toEndpoint struct {
	addr string
	next http.RoundTripper
}

func (e *toEndpoint) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	req.URL.Host = e.addr
	return e.next.RoundTrip(req)
}

// signer signs each request's Authorization header on the configured clock
// (the SDK's AuthorizationTransport would use the wall clock) and hands the
// credentials to GetPresignedURL2, which asks the transport for them.
type signer struct {
	id, key, token string
	now            func() time.Time
	base           http.RoundTripper
}

// GetCredential is the SDK's credential hook (cos.TransportIface).
func (s *signer) GetCredential() (string, string, string, error) { return s.id, s.key, s.token, nil }

func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context()) // a RoundTripper must not modify its request
	now := s.now()
	cos.AddAuthorizationHeader(s.id, s.key, s.token, req, &cos.AuthTime{
		SignStartTime: now.Add(-presignBackdate), SignEndTime: now.Add(time.Hour),
		KeyStartTime: now.Add(-presignBackdate), KeyEndTime: now.Add(time.Hour)})
	return s.base.RoundTrip(req)
}

// parseEndpoint accepts "host:port", "host" or "http(s)://host[:port]".
func parseEndpoint(ep string) (scheme, addr string, err error) {
	if !strings.Contains(ep, "://") {
		ep = "http://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", fmt.Errorf("objstore: cos: invalid endpoint %q, want host:port or http(s)://host:port", ep)
	}
	addr = u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return u.Scheme, addr, nil
}

func (c *Store) client(bucket, scheme string) (*cos.Client, error) {
	if v, ok := c.clients.Load(scheme + "|" + bucket); ok {
		return v.(*cos.Client), nil
	}
	// NewBucketURL refuses names without the -<appid> suffix.
	u, err := cos.NewBucketURL(bucket, c.cfg.Region, scheme == "https")
	if err != nil {
		return nil, apierr.Invalid("objstore: cos: bucket %q in %s: %v", bucket, c.cfg.Region, err)
	}
	cr := c.cfg.Credentials
	hc := &http.Client{Timeout: c.timeout, Transport: &signer{id: cr.SecretID, key: cr.SecretKey.Reveal(),
		token: cr.Token.Reveal(), now: c.cfg.Now, base: c.base}}
	cl := cos.NewClient(&cos.BaseURL{BucketURL: u}, hc)
	// The flows retry by error kind with backoff; SDK retries would only
	// multiply attempts without a pause.
	cl.Conf.RetryOpt.Count = 1
	v, _ := c.clients.LoadOrStore(scheme+"|"+bucket, cl)
	return v.(*cos.Client), nil
}

// Presign returns a GET URL for the object on the real COS host, valid from
// a minute ago (clock skew) until ttl from now; ttl defaults to an hour and
// is capped at two. The session token, if any, is in the URL and signed.
// The URL is a secret: never log it.
func (c *Store) Presign(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if key == "" {
		return "", apierr.Invalid("objstore: cos presign %s: empty key", bucket)
	}
	cl, err := c.client(bucket, "https")
	if err != nil {
		return "", err
	}
	ttl = driver.PresignTTL(ttl)
	now := c.cfg.Now()
	at := &cos.AuthTime{SignStartTime: now.Add(-presignBackdate), SignEndTime: now.Add(ttl),
		KeyStartTime: now.Add(-presignBackdate), KeyEndTime: now.Add(ttl)}
	u, err := cl.Object.GetPresignedURL2(ctx, http.MethodGet, key, ttl, &cos.PresignedURLOptions{AuthTime: at})
	if err != nil {
		// The SDK's presign errors name no URL (empty key, no credential).
		return "", fmt.Errorf("objstore: cos presign %s/%s: %w", bucket, key, err)
	}
	return u.String(), nil
}

// Head returns the object's size, ETag (unquoted) and version id.
func (c *Store) Head(ctx context.Context, bucket, key string) (objstore.Object, error) {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return objstore.Object{}, err
	}
	resp, err := cl.Object.Head(ctx, key, nil)
	if err != nil {
		return objstore.Object{}, cosError("HeadObject", bucket, key, err)
	}
	defer resp.Body.Close()
	size, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return objstore.Object{Bucket: bucket, Key: key, ETag: strings.Trim(resp.Header.Get("ETag"), `"`),
		VersionID: resp.Header.Get("x-cos-version-id"), Size: size}, nil
}

// ReadMagic returns the first objstore.MagicLen bytes of the object (fewer when it is
// shorter) with a Range GET, so a multi-GB backup is not downloaded.
func (c *Store) ReadMagic(ctx context.Context, bucket, key string) ([]byte, error) {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Object.Get(ctx, key, &cos.ObjectGetOptions{Range: fmt.Sprintf("bytes=0-%d", objstore.MagicLen-1)})
	if err != nil {
		return nil, cosError("GetObject", bucket, key, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, objstore.MagicLen))
	if err != nil {
		return nil, fmt.Errorf("objstore: cos read %s/%s: %w", bucket, key, driver.TransportErr(err))
	}
	return b, nil
}

// Get reads a small object whole (at most 16 MiB).
func (c *Store) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Object.Get(ctx, key, nil)
	if err != nil {
		return nil, cosError("GetObject", bucket, key, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, driver.MaxGet+1))
	if err != nil {
		return nil, fmt.Errorf("objstore: cos read %s/%s: %w", bucket, key, driver.TransportErr(err))
	}
	if len(b) > driver.MaxGet {
		return nil, fmt.Errorf("objstore: cos get %s/%s: larger than %d bytes", bucket, key, driver.MaxGet)
	}
	return b, nil
}

// Put writes data. With ifAbsent it sends x-cos-forbid-overwrite: true and
// returns objstore.ErrExists when the key is already there, atomically on the server.
func (c *Store) Put(ctx context.Context, bucket, key string, data []byte, ifAbsent bool) error {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return err
	}
	h := &http.Header{}
	if ifAbsent {
		h.Set("x-cos-forbid-overwrite", "true")
	}
	opt := &cos.ObjectPutOptions{ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{
		ContentType: "application/octet-stream", XOptionHeader: h}}
	resp, err := cl.Object.Put(ctx, key, bytes.NewReader(data), opt)
	if err != nil {
		return cosError("PutObject", bucket, key, err)
	}
	resp.Body.Close()
	return nil
}

// Versioning returns the bucket's versioning status: "" when it was never
// set, "Enabled" or "Suspended".
func (c *Store) Versioning(ctx context.Context, bucket string) (string, error) {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return "", err
	}
	res, _, err := cl.Bucket.GetVersioning(ctx)
	if err != nil {
		return "", cosError("GetBucketVersioning", bucket, "", err)
	}
	return res.Status, nil
}

// Delete removes the object; a missing object is not an error.
func (c *Store) Delete(ctx context.Context, bucket, key string) error {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return err
	}
	resp, err := cl.Object.Delete(ctx, key)
	if err != nil {
		if isNoSuchKey(err) {
			return nil
		}
		return cosError("DeleteObject", bucket, key, err)
	}
	resp.Body.Close()
	return nil
}

// List returns every object whose key starts with prefix, in key order,
// following the listing's markers.
func (c *Store) List(ctx context.Context, bucket, prefix string) ([]objstore.Object, error) {
	cl, err := c.client(bucket, c.scheme)
	if err != nil {
		return nil, err
	}
	var out []objstore.Object
	marker := ""
	for {
		res, _, err := cl.Bucket.Get(ctx, &cos.BucketGetOptions{Prefix: prefix, Marker: marker, MaxKeys: 1000})
		if err != nil {
			return nil, cosError("GetBucket", bucket, prefix, err)
		}
		for _, o := range res.Contents {
			out = append(out, objstore.Object{Bucket: bucket, Key: o.Key, ETag: strings.Trim(o.ETag, `"`), VersionID: o.VersionId, Size: o.Size})
		}
		if !res.IsTruncated || len(res.Contents) == 0 {
			return out, nil
		}
		marker = res.NextMarker
		if marker == "" {
			marker = res.Contents[len(res.Contents)-1].Key
		}
	}
}

// isNoSuchKey: COS answers 204 for a missing key, but tolerate a 404 that
// is about the key (not the bucket) all the same.
func isNoSuchKey(err error) bool {
	var er *cos.ErrorResponse
	return errors.As(err, &er) && er.Code == "NoSuchKey"
}

// cosError turns an SDK error into an *apierr.Error (cloud answers) or a
// transport error, dropping the SDK's own text: it quotes the request URL.
func cosError(action, bucket, key string, err error) error {
	var er *cos.ErrorResponse
	if errors.As(err, &er) {
		status := 0
		var reqID string
		if er.Response != nil {
			status = er.Response.StatusCode
			reqID = er.Response.Header.Get("X-Cos-Request-Id")
		}
		if er.RequestID != "" {
			reqID = er.RequestID
		}
		code := er.Code
		if code == "" { // HEAD answers carry no body
			code = driver.CodeForStatus(status)
		}
		var sentinel error
		switch {
		case status == http.StatusNotFound:
			sentinel = objstore.ErrNotFound
		case status == http.StatusConflict || status == http.StatusPreconditionFailed:
			sentinel = objstore.ErrExists
		}
		ae := &apierr.Error{Cloud: apierr.Tencent, Service: "cos", Action: action, Code: code,
			Message: er.Message, RequestID: reqID, HTTPStatus: status, Kind: driver.Kind(status, code), Err: sentinel}
		return fmt.Errorf("objstore: cos %s/%s: %w", bucket, key, ae)
	}
	var re *cos.RetryError
	if errors.As(err, &re) && len(re.Errs) > 0 {
		err = re.Errs[len(re.Errs)-1]
	}
	return fmt.Errorf("objstore: cos %s %s/%s: %w", action, bucket, key, driver.TransportErr(err))
}

var _ objstore.Store = (*Store)(nil)
