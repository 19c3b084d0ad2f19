package sqsqueue

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/driver"
	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/sigv4"
)

// Limits of SQS standard queues.
const (
	MaxDelay = 900 * time.Second
	MaxBatch = 10
	MaxWait  = 20 * time.Second
)

// Cloud is the apierr.Error Cloud of SQS errors.
const Cloud = "aws"

// maxAnswer bounds what is read of an answer: ten messages of at most
// 1 MiB each, JSON-escaped.
const maxAnswer = 24 << 20

// Options configure an SQS queue.
type Options struct {
	// Region, e.g. us-east-1.
	Region string
	// Endpoint overrides the SQS endpoint (an emulator); empty: AWS.
	Endpoint string
	// Credentials sign requests.
	Credentials sigv4.Credentials
	// HTTPClient carries requests; default: 35 s timeout, above the
	// longest long poll.
	HTTPClient *http.Client
}

// Open returns the queue at queueURL, or the queue called queueURL when it
// is a bare name (resolved once with GetQueueUrl).
func Open(ctx context.Context, queueURL string, o *Options) (*queue.Queue, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	name := queueURL
	if i := strings.LastIndexByte(queueURL, '/'); i >= 0 {
		name = queueURL[i+1:]
	}
	d, err := newDriver(ctx, queueURL, opt)
	if err != nil {
		return nil, fmt.Errorf("sqs queue %s: %w", name, err)
	}
	return queue.New(name, d), nil
}

func init() {
	queue.Openers.Register("sqs", openURL)
}

// Settings are the variables the sqs:// opener reads, through
// config.ProcessFrom like every other setting (empty means unset). On
// Lambda the keys are the execution role's. A URL's region= and endpoint=
// win over Region and Endpoint.
type Settings struct {
	Region        string `env:"AWS_REGION"`
	DefaultRegion string `env:"AWS_DEFAULT_REGION" default:"us-east-1"`
	// Endpoint overrides the SQS endpoint (the emulator).
	Endpoint        string        `env:"BACKUPFLOW_AWS_ENDPOINT"`
	AccessKeyID     string        `env:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey secret.String `env:"AWS_SECRET_ACCESS_KEY"`
	SessionToken    secret.String `env:"AWS_SESSION_TOKEN"`
}

// SettingsFrom reads Settings through getenv.
func SettingsFrom(getenv func(string) string) (Settings, error) {
	var s Settings
	if err := config.ProcessFrom(getenv, &s); err != nil {
		return s, fmt.Errorf("sqs settings: %w", err)
	}
	return s, nil
}

// openURL serves sqs://name?region=..&endpoint=.. and
// sqs://host/account/name?region=..&endpoint=.. (queue URL https://host/account/name,
// or endpoint + /account/name when endpoint is given), with Settings from
// env.Getenv.
func openURL(ctx context.Context, u *url.URL, env openurl.Env) (*queue.Queue, error) {
	st, err := SettingsFrom(env.Lookup)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	o := Options{Region: st.Region, Endpoint: st.Endpoint, HTTPClient: env.HTTPClient}
	if o.Region == "" {
		o.Region = st.DefaultRegion
	}
	if v := q.Get("region"); v != "" {
		o.Region = v
	}
	if v := q.Get("endpoint"); v != "" {
		o.Endpoint = v
	}
	if st.AccessKeyID == "" || !st.SecretAccessKey.IsSet() {
		return nil, apierr.Invalid("sqs needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (on Lambda the execution role provides them)")
	}
	o.Credentials = sigv4.Credentials{AccessKeyID: st.AccessKeyID, SecretAccessKey: st.SecretAccessKey.Reveal(),
		SessionToken: st.SessionToken.Reveal()}
	target := u.Host
	if u.Path != "" && u.Path != "/" {
		base := "https://" + u.Host
		if o.Endpoint != "" {
			base = strings.TrimSuffix(o.Endpoint, "/")
		}
		target = base + u.Path
	}
	return Open(ctx, target, &o)
}

// sqsDriver speaks SQS's JSON protocol (AWS JSON 1.0) itself: four
// operations do not need the SDK, whose init the Lambda cold start paid
// for (docs/benchmarks.md). sqsemu checks every request's signature with
// the SDK's signer, and interop runs the SDK's client against the emulator.
type sqsDriver struct {
	hc       *http.Client
	endpoint string // the service endpoint every operation is posted to
	signer   sigv4.Signer
	url      string // the queue's URL
}

func newDriver(ctx context.Context, queueURL string, o Options) (*sqsDriver, error) {
	if queueURL == "" {
		return nil, apierr.Invalid("empty queue URL or name")
	}
	if o.Region == "" {
		return nil, apierr.Invalid("no region")
	}
	if o.Credentials.AccessKeyID == "" || o.Credentials.SecretAccessKey == "" {
		return nil, apierr.Invalid("no credentials")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: MaxWait + 15*time.Second}
	}
	endpoint := strings.TrimSuffix(o.Endpoint, "/") + "/"
	if o.Endpoint == "" {
		endpoint = "https://sqs." + o.Region + ".amazonaws.com/"
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, apierr.Invalid("endpoint %q: want http(s)://host[:port]", o.Endpoint)
	}
	d := &sqsDriver{hc: hc, endpoint: endpoint, url: queueURL,
		signer: sigv4.Signer{Service: "sqs", Region: o.Region, Credentials: o.Credentials}}
	if !strings.Contains(queueURL, "://") {
		var out struct{ QueueUrl string }
		if err := d.call(ctx, "GetQueueUrl", map[string]any{"QueueName": queueURL}, &out); err != nil {
			return nil, err
		}
		if out.QueueUrl == "" {
			return nil, fmt.Errorf("sqs GetQueueUrl: the answer names no queue URL")
		}
		d.url = out.QueueUrl
	}
	return d, nil
}

func (d *sqsDriver) MaxDelay() time.Duration { return MaxDelay }
func (d *sqsDriver) MaxBatch() int           { return MaxBatch }
func (d *sqsDriver) Close() error            { return nil }

func seconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func (d *sqsDriver) Send(ctx context.Context, body []byte, delay time.Duration) (string, error) {
	var out struct{ MessageId, MD5OfMessageBody string }
	in := map[string]any{"QueueUrl": d.url, "MessageBody": string(body), "DelaySeconds": seconds(delay)}
	if err := d.call(ctx, "SendMessage", in, &out); err != nil {
		return "", err
	}
	// As the SDK does: a digest that does not match means the body was
	// changed on the way; what was queued is unknown, so it is ambiguous.
	if out.MD5OfMessageBody != md5Hex(string(body)) {
		return "", fmt.Errorf("sqs SendMessage: MD5OfMessageBody %q does not match the body sent: %w", out.MD5OfMessageBody, apierr.ErrAmbiguous)
	}
	return out.MessageId, nil
}

func (d *sqsDriver) Receive(ctx context.Context, n int, wait time.Duration) ([]driver.Message, error) {
	var out struct {
		Messages []struct {
			MessageId, ReceiptHandle, Body, MD5OfBody string
			Attributes                                map[string]string
		}
	}
	in := map[string]any{"QueueUrl": d.url, "MaxNumberOfMessages": n, "WaitTimeSeconds": seconds(min(wait, MaxWait)),
		"MessageSystemAttributeNames": []string{"ApproximateReceiveCount"}}
	if err := d.call(ctx, "ReceiveMessage", in, &out); err != nil {
		return nil, err
	}
	ms := make([]driver.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		if m.MD5OfBody != md5Hex(m.Body) {
			return nil, fmt.Errorf("sqs ReceiveMessage: message %s: MD5OfBody %q does not match its body: %w", m.MessageId, m.MD5OfBody, apierr.ErrAmbiguous)
		}
		count, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		ms = append(ms, driver.Message{ID: m.MessageId, Body: []byte(m.Body), Receipt: m.ReceiptHandle, Receives: max(count, 1)})
	}
	return ms, nil
}

func (d *sqsDriver) Delete(ctx context.Context, receipt string) error {
	err := d.call(ctx, "DeleteMessage", map[string]any{"QueueUrl": d.url, "ReceiptHandle": receipt}, nil)
	if c := apierr.Code(err); c == "ReceiptHandleIsInvalid" || c == "InvalidParameterValue" {
		return fmt.Errorf("%w: %w", driver.ErrInvalidReceipt, err)
	}
	return err
}

// call posts one operation and decodes its answer into out (nil: ignore
// it). Errors are classified here, in one place.
func (d *sqsDriver) call(ctx context.Context, action string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("sqs %s: encode: %w", action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sqs %s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS."+action)
	// SQS answers the legacy query-protocol error codes in
	// x-amzn-query-error when asked; they are the documented ones.
	req.Header.Set("X-Amzn-Query-Mode", "true")
	d.signer.Sign(req, sigv4.PayloadHash(body), time.Now())
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("sqs %s: %w", action, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		// The call may have happened: ambiguous, like a dropped connection.
		return fmt.Errorf("sqs %s: read the answer: %w: %w", action, apierr.ErrAmbiguous, err)
	}
	if resp.StatusCode/100 != 2 {
		return apiError(action, resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("sqs %s: decode the answer: %w: %w", action, apierr.ErrAmbiguous, err)
	}
	return nil
}

// apiError classifies a refusal. An answer without SQS's JSON error shape
// is a gateway's, not the API's, and is classified by status alone.
func apiError(action string, resp *http.Response, raw []byte) error {
	status := resp.StatusCode
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Type == "" {
		k, ok := apierr.ClassifyStatus(status)
		if !ok {
			k = apierr.Permanent
		}
		return &apierr.Error{Cloud: Cloud, Service: "sqs", Action: action, Code: "HTTP" + strconv.Itoa(status),
			Message: http.StatusText(status), HTTPStatus: status, Kind: k}
	}
	code := e.Type
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	code, _, _ = strings.Cut(code, ":")
	if q, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Query-Error"), ";"); q != "" {
		code = q
	}
	msg := e.Message
	if msg == "" {
		msg = e.Msg
	}
	kind := apierr.Permanent
	switch {
	case code == "RequestThrottled" || code == "ThrottlingException" || code == "OverLimit" || status == http.StatusTooManyRequests:
		kind = apierr.RetryLater
	case status >= 500:
		kind = apierr.RetryAfterLookup
	}
	return &apierr.Error{Cloud: Cloud, Service: "sqs", Action: action, Code: code, Message: msg,
		RequestID: resp.Header.Get("X-Amzn-Requestid"), HTTPStatus: status, Kind: kind}
}
