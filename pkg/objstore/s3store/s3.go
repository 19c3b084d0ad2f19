package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/objstore/driver"
)

// Store is an object store on S3 over aws-sdk-go-v2. Safe for concurrent use.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
}

// New validates cfg and builds the store; it does no I/O.
func New(cfg Config) (*Store, error) {
	if cfg.Region == "" {
		return nil, errors.New("objstore: s3: no region")
	}
	if cfg.AccessKeyID == "" || !cfg.SecretAccessKey.IsSet() {
		return nil, errors.New("objstore: s3: no credentials")
	}
	creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey.Reveal(),
		SessionToken: cfg.SessionToken.Reveal(), Source: "backupflow"}
	o := s3.Options{
		Region: cfg.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		UsePathStyle: cfg.UsePathStyle || cfg.Endpoint != "",
		// The flows retry by error kind with backoff.
		Retryer: aws.NopRetryer{},
		// Checksums only where S3 requires them: keeps requests plain for
		// S3-compatible emulators.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		o.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		o.HTTPClient = cfg.HTTPClient
	}
	c := s3.New(o)
	return &Store{client: c, presign: s3.NewPresignClient(c)}, nil
}

// Presign returns a GET URL valid for ttl (default an hour, at most two).
// SigV4 fixes the start at signing time with the wall clock; unlike COS the
// window cannot be backdated. The URL is a secret: never log it.
func (s *Store) Presign(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if key == "" {
		return "", apierr.Invalid("objstore: s3 presign %s: empty key", bucket)
	}
	ttl = driver.PresignTTL(ttl)
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", s3Error("PresignGetObject", bucket, key, err)
	}
	return req.URL, nil
}

// Head returns the object's size, ETag (unquoted) and version id.
func (s *Store) Head(ctx context.Context, bucket, key string) (objstore.Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return objstore.Object{}, s3Error("HeadObject", bucket, key, err)
	}
	return objstore.Object{Bucket: bucket, Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		VersionID: aws.ToString(out.VersionId), Size: aws.ToInt64(out.ContentLength)}, nil
}

// ReadMagic returns the first objstore.MagicLen bytes with a Range GET.
func (s *Store) ReadMagic(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Range: aws.String(fmt.Sprintf("bytes=0-%d", objstore.MagicLen-1))})
	if err != nil {
		return nil, s3Error("GetObject", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, objstore.MagicLen))
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 read %s/%s: %w", bucket, key, driver.TransportErr(err))
	}
	return b, nil
}

// Get reads a small object whole (at most 16 MiB).
func (s *Store) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s3Error("GetObject", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, driver.MaxGet+1))
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 read %s/%s: %w", bucket, key, driver.TransportErr(err))
	}
	if len(b) > driver.MaxGet {
		return nil, fmt.Errorf("objstore: s3 get %s/%s: larger than %d bytes", bucket, key, driver.MaxGet)
	}
	return b, nil
}

// Put writes data. With ifAbsent it sends If-None-Match: * and returns
// objstore.ErrExists when S3 answers 412; S3 decides atomically.
func (s *Store) Put(ctx context.Context, bucket, key string, data []byte, ifAbsent bool) error {
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/octet-stream")}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s3Error("PutObject", bucket, key, err)
	}
	return nil
}

// Delete removes the object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return s3Error("DeleteObject", bucket, key, err)
	}
	return nil
}

// List returns every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]objstore.Object, error) {
	var out []objstore.Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Error("ListObjectsV2", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, objstore.Object{Bucket: bucket, Key: aws.ToString(o.Key), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
				Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// s3Error turns an SDK error into an *apierr.Error (S3 answered) or a
// transport error; the SDK's text is dropped because it can quote the URL.
func s3Error(action, bucket, key string, err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		status := re.HTTPStatusCode()
		code, msg := driver.CodeForStatus(status), ""
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code, msg = ae.ErrorCode(), ae.ErrorMessage()
		}
		var sentinel error
		kind := driver.Kind(status, code)
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
		if code == "SlowDown" {
			kind = apierr.RetryLater
		}
		ae2 := &apierr.Error{Cloud: "aws", Service: "s3", Action: action, Code: code, Message: msg,
			RequestID: re.ServiceRequestID(), HTTPStatus: status, Kind: kind, Err: sentinel}
		return fmt.Errorf("objstore: s3 %s/%s: %w", bucket, key, ae2)
	}
	return fmt.Errorf("objstore: s3 %s %s/%s: %w", action, bucket, key, driver.TransportErr(err))
}

var _ objstore.Store = (*Store)(nil)
