package sqsqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/driver"
	"github.com/backupflow/backupflow/pkg/secret"
)

// Limits of SQS standard queues.
const (
	MaxDelay = 900 * time.Second
	MaxBatch = 10
	MaxWait  = 20 * time.Second
)

// Cloud is the apierr.Error Cloud of SQS errors.
const Cloud = "aws"

// Options configure an SQS queue.
type Options struct {
	// Client, when set, is used as is and the fields below are ignored.
	Client *sqs.Client
	// Region, e.g. us-east-1.
	Region string
	// Endpoint overrides the SQS endpoint (an emulator); empty: AWS.
	Endpoint string
	// Credentials sign requests.
	Credentials aws.CredentialsProvider
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
	id, key, token := st.AccessKeyID, st.SecretAccessKey.Reveal(), st.SessionToken.Reveal()
	o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: key, SessionToken: token, Source: "backupflow"}, nil
	})
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

type sqsDriver struct {
	client *sqs.Client
	url    string
}

func newDriver(ctx context.Context, queueURL string, o Options) (*sqsDriver, error) {
	if queueURL == "" {
		return nil, apierr.Invalid("empty queue URL or name")
	}
	c := o.Client
	if c == nil {
		if o.Region == "" {
			return nil, apierr.Invalid("no region")
		}
		if o.Credentials == nil {
			return nil, apierr.Invalid("no credentials")
		}
		hc := o.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: MaxWait + 15*time.Second}
		}
		so := sqs.Options{
			Region:      o.Region,
			Credentials: o.Credentials,
			HTTPClient:  bufferingClient{hc},
			// Retries are the flows' decision, by error kind.
			Retryer: aws.NopRetryer{},
		}
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		c = sqs.New(so)
	}
	d := &sqsDriver{client: c, url: queueURL}
	if !strings.Contains(queueURL, "://") {
		out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(queueURL)})
		if err != nil {
			return nil, convert("GetQueueUrl", err)
		}
		d.url = aws.ToString(out.QueueUrl)
	}
	return d, nil
}

func (d *sqsDriver) MaxDelay() time.Duration { return MaxDelay }
func (d *sqsDriver) MaxBatch() int           { return MaxBatch }
func (d *sqsDriver) Close() error            { return nil }

func seconds(d time.Duration) int32 {
	return int32(math.Ceil(d.Seconds()))
}

func (d *sqsDriver) Send(ctx context.Context, body []byte, delay time.Duration) (string, error) {
	out, err := d.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(d.url),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: seconds(delay),
	})
	if err != nil {
		return "", convert("SendMessage", err)
	}
	return aws.ToString(out.MessageId), nil
}

func (d *sqsDriver) Receive(ctx context.Context, n int, wait time.Duration) ([]driver.Message, error) {
	out, err := d.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(d.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             seconds(min(wait, MaxWait)),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, convert("ReceiveMessage", err)
	}
	ms := make([]driver.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		count, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		ms = append(ms, driver.Message{
			ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body)),
			Receipt: aws.ToString(m.ReceiptHandle), Receives: max(count, 1),
		})
	}
	return ms, nil
}

func (d *sqsDriver) Delete(ctx context.Context, receipt string) error {
	_, err := d.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(d.url), ReceiptHandle: aws.String(receipt)})
	if err != nil {
		err = convert("DeleteMessage", err)
		if c := apierr.Code(err); c == "ReceiptHandleIsInvalid" || c == "InvalidParameterValue" {
			return fmt.Errorf("%w: %w", driver.ErrInvalidReceipt, err)
		}
		return err
	}
	return nil
}

// convert turns an SQS answer into an *apierr.Error with a kind; transport
// failures stay as they are (apierr.KindOf calls them ambiguous).
func convert(action string, err error) error {
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if k, ok := apierr.ClassifyStatus(status); ok {
			// A gateway's answer, not the API's.
			return &apierr.Error{Cloud: Cloud, Service: "sqs", Action: action, Code: "HTTP" + strconv.Itoa(status),
				Message: http.StatusText(status), HTTPStatus: status, Kind: k, Err: err}
		}
		return fmt.Errorf("sqs %s: %w", action, err)
	}
	kind := apierr.Permanent
	switch code := ae.ErrorCode(); {
	case code == "RequestThrottled" || code == "ThrottlingException" || code == "OverLimit" || status == http.StatusTooManyRequests:
		kind = apierr.RetryLater
	case status >= 500 || ae.ErrorFault() == smithy.FaultServer:
		kind = apierr.RetryAfterLookup
	}
	reqID := ""
	var rid interface{ ServiceRequestID() string }
	if errors.As(err, &rid) {
		reqID = rid.ServiceRequestID()
	}
	return &apierr.Error{Cloud: Cloud, Service: "sqs", Action: action, Code: ae.ErrorCode(), Message: ae.ErrorMessage(),
		RequestID: reqID, HTTPStatus: status, Kind: kind, Err: err}
}

// bufferingClient hands the transport a request body of its own. smithy-go
// closes the request body as soon as Do returns, and when that lands before
// net/http's writer has read the body to EOF the transport closes the
// connection under the response being read ("use of closed network
// connection", seen here under load; aws-sdk-go-v2#2737). Our request
// bodies are at most about 1 MiB, so a copy is cheap.
type bufferingClient struct{ c *http.Client }

func (b bufferingClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		buf, err := io.ReadAll(r.Body)
		_ = r.Body.Close() // a read error below matters; a close error does not
		if err != nil {
			return nil, fmt.Errorf("buffer request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(buf))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		r.ContentLength = int64(len(buf))
	}
	return b.c.Do(r)
}
