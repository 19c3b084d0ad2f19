package cmqqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/queue"
	"github.com/backupflow/backupflow/pkg/queue/cmqqueue/cmqsign"
	"github.com/backupflow/backupflow/pkg/queue/driver"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// Limits of TDMQ for CMQ (facts/platform.md §9.5, §9.7).
const (
	MaxDelay = 3600 * time.Second
	MaxBatch = 16
	MaxWait  = 30 * time.Second
)

const (
	maxResponse = 64 << 20 // 16 messages of up to 1 MiB, JSON-escaped
	service     = "cmq"
)

// regionCodes maps API 3.0 regions to the data-plane host codes.
var regionCodes = map[string]string{
	"ap-guangzhou": "gz", "ap-shanghai": "sh", "ap-beijing": "bj", "ap-chengdu": "cd",
	"ap-chongqing": "cq", "ap-nanjing": "nj", "ap-hongkong": "hk", "ap-singapore": "sg",
}

// Options configure a CMQ queue.
type Options struct {
	// Endpoint is the data-plane URL, e.g. https://cmq-gz.public.tencenttdmq.com
	// or an emulator's http://127.0.0.1:9000. Its path is the one signed and
	// requested ("/" when it has none). Empty: the public endpoint of Region.
	Endpoint string
	// Region is the API 3.0 region (ap-guangzhou, ...).
	Region string
	// Credentials sign data-plane requests; Token is sent for role
	// credentials.
	Credentials tencent.Credentials
	// API, when set, sends through API 3.0 tdmq SendCmqMsg; nil sends through
	// the data-plane SendMessage with the same credentials.
	API *tencent.Client
	// HTTPClient carries data-plane requests. Default: 45 s timeout, above
	// the longest long poll.
	HTTPClient *http.Client
	// Now stamps requests. Default time.Now.
	Now func() time.Time
	// SignatureMethod is cmqsign.HmacSHA256 (default) or cmqsign.HmacSHA1.
	SignatureMethod string
}

// Open returns the CMQ queue called name. It does no I/O.
func Open(name string, o *Options) (*queue.Queue, error) {
	d, err := newDriver(name, o)
	if err != nil {
		return nil, fmt.Errorf("cmq queue %s: %w", name, err)
	}
	return queue.New(name, d), nil
}

func init() {
	queue.Openers.Register("cmq", openURL)
}

// Settings are the variables the cmq:// opener reads, through
// config.ProcessFrom like every other setting (empty means unset).
// Credentials come from tencent.CredentialsFromEnv. A URL's endpoint= and
// region= win over Endpoint and Region.
type Settings struct {
	// Endpoint is the data-plane address for receive/delete (console: "API
	// request address"), e.g. https://cmq-gz.public.tencenttdmq.com.
	Endpoint string `env:"BACKUPFLOW_CMQ_ENDPOINT"`
	// Region is the API 3.0 region (SCF sets TENCENTCLOUD_REGION).
	Region string `env:"TENCENTCLOUD_REGION" default:"ap-guangzhou"`
	// APIEndpoint, RootDomain and Endpoints reach API 3.0 (SendCmqMsg) as
	// the providers do: an emulator, or the international site.
	APIEndpoint string `env:"BACKUPFLOW_TENCENT_ENDPOINT"`
	RootDomain  string `env:"BACKUPFLOW_TENCENT_ROOT_DOMAIN"`
	Endpoints   string `env:"BACKUPFLOW_TENCENT_ENDPOINTS"`
}

// SettingsFrom reads Settings through getenv.
func SettingsFrom(getenv func(string) string) (Settings, error) {
	var s Settings
	if err := config.ProcessFrom(getenv, &s); err != nil {
		return s, fmt.Errorf("cmq settings: %w", err)
	}
	return s, nil
}

// openURL serves cmq://name?region=ap-guangzhou&endpoint=<url>&signature=HmacSHA1
// as deployed: settings and credentials from env.Getenv, sends through API
// 3.0 SendCmqMsg (the data plane takes receive and delete).
func openURL(_ context.Context, u *url.URL, env openurl.Env) (*queue.Queue, error) {
	name := u.Host + strings.TrimPrefix(u.Path, "/")
	st, err := SettingsFrom(env.Lookup)
	if err != nil {
		return nil, fmt.Errorf("cmq queue %s: %w", name, err)
	}
	q := u.Query()
	if v := q.Get("endpoint"); v != "" {
		st.Endpoint = v
	}
	if v := q.Get("region"); v != "" {
		st.Region = v
	}
	creds, err := tencent.CredentialsFromEnv(env.Lookup)
	if err != nil {
		return nil, fmt.Errorf("cmq queue %s: %w", name, err)
	}
	eps, err := tencent.ParseEndpoints(st.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("cmq queue %s: BACKUPFLOW_TENCENT_ENDPOINTS: %w", name, err)
	}
	tc := tencent.Config{Credentials: creds, Region: st.Region, Endpoint: st.APIEndpoint, RootDomain: st.RootDomain, Endpoints: eps}
	if env.HTTPClient != nil {
		tc.Transport = env.HTTPClient.Transport
	}
	api, err := tencent.New(tc)
	if err != nil {
		return nil, fmt.Errorf("cmq queue %s: %w", name, err)
	}
	return Open(name, &Options{
		Endpoint:        st.Endpoint,
		Region:          st.Region,
		Credentials:     creds,
		API:             api,
		HTTPClient:      env.HTTPClient,
		Now:             env.Now,
		SignatureMethod: q.Get("signature"),
	})
}

type cmqDriver struct {
	name string
	o    Options
	base *url.URL
	path string
}

func newDriver(name string, o *Options) (*cmqDriver, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if name == "" {
		return nil, apierr.Invalid("empty queue name")
	}
	if opt.Credentials.SecretID == "" || !opt.Credentials.SecretKey.IsSet() {
		return nil, apierr.Invalid("credentials are required to sign data-plane requests")
	}
	if opt.Endpoint == "" {
		code, ok := regionCodes[opt.Region]
		if !ok {
			return nil, apierr.Invalid("no endpoint given and the region has no known data-plane host; set endpoint")
		}
		opt.Endpoint = "https://cmq-" + code + ".public.tencenttdmq.com"
	}
	u, err := url.Parse(opt.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, apierr.Invalid("endpoint %q: want http(s)://host[:port][/path]", opt.Endpoint)
	}
	switch opt.SignatureMethod {
	case "":
		opt.SignatureMethod = cmqsign.HmacSHA256
	case cmqsign.HmacSHA1, cmqsign.HmacSHA256:
	default:
		return nil, apierr.Invalid("signature method %q: want HmacSHA1 or HmacSHA256", opt.SignatureMethod)
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: MaxWait + 15*time.Second}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	return &cmqDriver{name: name, o: opt, base: u, path: path}, nil
}

func (d *cmqDriver) MaxDelay() time.Duration { return MaxDelay }
func (d *cmqDriver) MaxBatch() int           { return MaxBatch }
func (d *cmqDriver) Close() error            { return nil }

// seconds rounds up so a message is never due early.
func seconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

type sendCmqMsgRequest struct {
	QueueName    string
	MsgContent   string
	DelaySeconds int64
}

type sendCmqMsgResponse struct {
	Result bool
	MsgId  string //nolint:revive // the API's field name
}

func (d *cmqDriver) Send(ctx context.Context, body []byte, delay time.Duration) (string, error) {
	if d.o.API != nil {
		var resp sendCmqMsgResponse
		a := tencent.Action{Service: "tdmq", Version: "2020-02-17", Name: "SendCmqMsg", Region: d.o.Region}
		if err := d.o.API.Call(ctx, a, sendCmqMsgRequest{QueueName: d.name, MsgContent: string(body), DelaySeconds: seconds(delay)}, &resp); err != nil {
			return "", err
		}
		if !resp.Result || resp.MsgId == "" {
			return "", apierr.New(apierr.Tencent, "tdmq", "SendCmqMsg", "FailedOperation", "Result false or no MsgId", "", 0, nil)
		}
		return resp.MsgId, nil
	}
	p := url.Values{"queueName": {d.name}, "msgBody": {string(body)}, "delaySeconds": {strconv.FormatInt(seconds(delay), 10)}}
	var out sendResponse
	if err := d.call(ctx, "SendMessage", p, &out); err != nil {
		return "", err
	}
	return out.MsgID, nil
}

func (d *cmqDriver) Receive(ctx context.Context, max int, wait time.Duration) ([]driver.Message, error) {
	p := url.Values{
		"queueName":          {d.name},
		"numOfMsg":           {strconv.Itoa(max)},
		"pollingWaitSeconds": {strconv.FormatInt(seconds(min(wait, MaxWait)), 10)},
	}
	var out batchReceiveResponse
	if err := d.call(ctx, "BatchReceiveMessage", p, &out); err != nil {
		if apierr.Code(err) == "7000" {
			return []driver.Message{}, nil
		}
		return nil, err
	}
	ms := make([]driver.Message, 0, len(out.MsgInfoList))
	for _, m := range out.MsgInfoList {
		ms = append(ms, driver.Message{ID: m.MsgID, Body: []byte(m.MsgBody), Receipt: m.ReceiptHandle, Receives: int(m.DequeueCount)})
	}
	return ms, nil
}

func (d *cmqDriver) Delete(ctx context.Context, receipt string) error {
	err := d.call(ctx, "DeleteMessage", url.Values{"queueName": {d.name}, "receiptHandle": {receipt}}, nil)
	var ae *apierr.Error
	if errors.As(err, &ae) && (ae.Code == "4430" || module(ae.Message) == 10470 || module(ae.Message) == 10260) {
		return fmt.Errorf("%w: %w", driver.ErrInvalidReceipt, err)
	}
	return err
}

// call signs and POSTs one data-plane action and decodes its answer. API
// errors come back as *apierr.Error (cloud CMQ); 5xx gateway answers are
// ambiguous and classified RetryAfterLookup.
func (d *cmqDriver) call(ctx context.Context, action string, p url.Values, out any) error {
	p.Set("Action", action)
	p.Set("Timestamp", strconv.FormatInt(d.o.Now().Unix(), 10))
	p.Set("Nonce", strconv.FormatUint(uint64(rand.Uint32())+1, 10))
	p.Set("SecretId", d.o.Credentials.SecretID)
	p.Set("SignatureMethod", d.o.SignatureMethod)
	p.Set("RequestClient", "backupflow")
	if d.o.Credentials.Token.IsSet() {
		p.Set("Token", d.o.Credentials.Token.Reveal())
	}
	p.Set("Signature", cmqsign.Sign(http.MethodPost, d.base.Host, d.path, p, d.o.Credentials.SecretKey.Reveal()))

	u := *d.base
	u.Path, u.RawQuery = d.path, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(p.Encode()))
	if err != nil {
		return fmt.Errorf("cmq %s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := d.o.HTTPClient.Do(req)
	if err != nil {
		// Transport failures stay net errors: apierr.KindOf calls them ambiguous.
		return fmt.Errorf("cmq %s: %w", action, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("cmq %s: read response: %w", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		return apierr.New(apierr.CMQ, service, action, "HTTP"+strconv.Itoa(resp.StatusCode), http.StatusText(resp.StatusCode), "", resp.StatusCode, nil)
	}
	env, err := decodeResponse(body, out)
	if err != nil {
		// A 200 we cannot read: the action may have happened.
		return &apierr.Error{Cloud: apierr.CMQ, Service: service, Action: action, Code: "BadResponse",
			Message: err.Error(), HTTPStatus: resp.StatusCode, Kind: apierr.RetryAfterLookup, Err: err}
	}
	if env.Code != 0 {
		return apierr.New(apierr.CMQ, service, action, strconv.FormatInt(int64(env.Code), 10), env.Message, env.RequestID, 0, nil)
	}
	return nil
}
