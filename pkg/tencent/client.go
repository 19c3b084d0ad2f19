package tencent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/secret"
)

// Credentials are a Tencent key pair and, for temporary (role) credentials,
// a session token.
type Credentials struct {
	SecretID  string
	SecretKey secret.String
	Token     secret.String
}

// CredentialsFromEnv reads SCF's role credentials (TENCENTCLOUD_SECRETID,
// TENCENTCLOUD_SECRETKEY, TENCENTCLOUD_SESSIONTOKEN) and falls back to the
// SDK's names (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY). The error
// names the variables to set and never echoes a value.
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{
		SecretID:  getenv("TENCENTCLOUD_SECRETID"),
		SecretKey: secret.String(getenv("TENCENTCLOUD_SECRETKEY")),
		Token:     secret.String(getenv("TENCENTCLOUD_SESSIONTOKEN")),
	}
	if c.SecretID == "" && !c.SecretKey.IsSet() {
		c.SecretID = getenv("TENCENTCLOUD_SECRET_ID")
		c.SecretKey = secret.String(getenv("TENCENTCLOUD_SECRET_KEY"))
		c.Token = ""
	}
	if c.SecretID == "" || !c.SecretKey.IsSet() {
		return Credentials{}, errors.New("tencent credentials missing: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY " +
			"(on SCF the execution role provides TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY and TENCENTCLOUD_SESSIONTOKEN)")
	}
	return c, nil
}

// Config configures a Client.
type Config struct {
	Credentials Credentials
	// Region is the default region; a call may name another.
	Region string
	// Endpoint, when set, sends every call to this host[:port] or URL (an
	// emulator); empty means <service>.tencentcloudapi.com over HTTPS.
	Endpoint string
	// RootDomain replaces tencentcloudapi.com: "intl.tencentcloudapi.com"
	// reaches the international site at <service>.intl.tencentcloudapi.com.
	RootDomain string
	// Endpoints overrides the host of single products ("cdb" →
	// "cdb.ap-singapore.intl.tencentcloudapi.com"); it wins over Endpoint
	// and RootDomain. A bare host means HTTPS here: these are real hosts.
	Endpoints map[string]string
	// Timeout bounds each HTTP exchange; default 20 s.
	Timeout time.Duration
	// Transport overrides the HTTP transport (tests, in-process emulator).
	Transport http.RoundTripper
	// Now and Sleep pace each action at its rate (Rates). Both nil: the
	// wall clock and real timers. A simulation sets both to its virtual
	// clock; setting only one is the same as setting neither.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// NoPace turns the pacing off (a simulation that models the limits).
	NoPace bool
}

// Client sends API 3.0 actions. Safe for concurrent use.
type Client struct {
	cfg     Config
	scheme  string
	host    string
	mu      sync.Mutex
	clients map[string]*common.Client // by region
	// services holds per-product overrides: scheme ("HTTP"/"HTTPS"), host.
	services map[string][2]string
	pace     *pacer
}

// New returns a Client; it does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.Credentials.SecretID == "" {
		return nil, errors.New("tencent: no credentials")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	c := &Client{cfg: cfg, scheme: "HTTPS", clients: map[string]*common.Client{}, services: map[string][2]string{},
		pace: newPacer(cfg.Now, cfg.Sleep)}
	if cfg.Endpoint != "" {
		scheme, host, err := ParseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		c.scheme, c.host = scheme, host
	}
	if strings.ContainsAny(cfg.RootDomain, "/: ") {
		return nil, fmt.Errorf("tencent root domain: want a domain such as intl.tencentcloudapi.com")
	}
	for svc, ep := range cfg.Endpoints {
		scheme, host, err := parseServiceEndpoint(ep)
		if err != nil {
			return nil, fmt.Errorf("tencent endpoint for %s: %w", svc, err)
		}
		c.services[svc] = [2]string{scheme, host}
	}
	return c, nil
}

// parseServiceEndpoint is ParseEndpoint where a bare host means HTTPS.
func parseServiceEndpoint(ep string) (scheme, host string, err error) {
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	return ParseEndpoint(ep)
}

// ParseEndpoints reads per-product overrides written
// "cdb=host[,sqlserver=https://host]", as BACKUPFLOW_TENCENT_ENDPOINTS holds them.
func ParseEndpoints(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		svc, ep, ok := strings.Cut(item, "=")
		svc, ep = strings.TrimSpace(svc), strings.TrimSpace(ep)
		if !ok || svc == "" || ep == "" {
			return nil, fmt.Errorf("tencent endpoints: want product=host[,product=host]")
		}
		if _, dup := out[svc]; dup {
			return nil, fmt.Errorf("tencent endpoints: %s given twice", svc)
		}
		if _, _, err := parseServiceEndpoint(ep); err != nil {
			return nil, err
		}
		out[svc] = ep
	}
	return out, nil
}

// ParseEndpoint splits "host:port", "http://host:port" or "https://host" into
// the SDK's scheme ("HTTP"/"HTTPS") and host. A bare host:port means plain
// HTTP because that is what a local emulator speaks.
func ParseEndpoint(ep string) (scheme, host string, err error) {
	if !strings.Contains(ep, "://") {
		return "HTTP", strings.TrimSuffix(ep, "/"), nil
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("tencent endpoint: want host:port or http(s)://host:port")
	}
	switch u.Scheme {
	case "http":
		return "HTTP", u.Host, nil
	case "https":
		return "HTTPS", u.Host, nil
	}
	return "", "", fmt.Errorf("tencent endpoint: scheme must be http or https")
}

func (c *Client) client(region string) *common.Client {
	if region == "" {
		region = c.cfg.Region
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[region]; ok {
		return cl
	}
	cpf := profile.NewClientProfile()
	// Call bounds each exchange with a context deadline of cfg.Timeout.
	cpf.HttpProfile.ReqTimeout = 0
	cpf.HttpProfile.Scheme = c.scheme
	cpf.HttpProfile.Endpoint = c.host // empty: <service>.<root domain>
	cpf.HttpProfile.RootDomain = c.cfg.RootDomain
	cpf.Language = "en-US"
	// The region breaker would rewrite the domain to a real Tencent host,
	// bypassing an emulator; retries are the flows' job, by error kind.
	cpf.DisableRegionBreaker = true
	cpf.RateLimitExceededMaxRetries = 0
	cred := common.NewTokenCredential(c.cfg.Credentials.SecretID, c.cfg.Credentials.SecretKey.Reveal(), c.cfg.Credentials.Token.Reveal())
	cl := common.NewCommonClient(cred, region, cpf)
	base := c.cfg.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cl.WithHttpTransport(statusRecorder{base})
	c.clients[region] = cl
	return cl
}

// The SDK reports every failed exchange with HTTP status 0, so a gateway's
// 429 could not be told from its 502. statusRecorder notes the status (and
// content type) of each exchange in a holder the call put in its request's
// context.
type statusRecorder struct{ next http.RoundTripper }

type statusKey struct{}

// exchange is what statusRecorder saw of the last answer.
type exchange struct {
	status      int
	contentType string
}

func (t statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if resp != nil {
		if p, ok := r.Context().Value(statusKey{}).(*exchange); ok {
			p.status = resp.StatusCode
			p.contentType = resp.Header.Get("Content-Type")
		}
	}
	return resp, err
}

// Action names one API 3.0 call.
type Action struct {
	Service string // "cdb", "sqlserver", "mongodb", "tdmq", "tag"
	Version string // "2017-03-20", ...
	Name    string // "CreateBackup"
	Region  string // empty: the client's default region
}

// Call sends req (a struct marshalled to the action's JSON parameters) and
// decodes the envelope's Response into resp. Cloud errors come back as
// *apierr.Error carrying the code, message and request id.
func (c *Client) Call(ctx context.Context, a Action, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s %s: encode request: %w", a.Service, a.Name, err)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%s %s: encode request: want a JSON object, got %.40s", a.Service, a.Name, body)
	}
	r := &rawRequest{BaseRequest: &tchttp.BaseRequest{}, body: body}
	r.Init().WithApiInfo(a.Service, a.Version, a.Name)
	if ep, ok := c.services[a.Service]; ok {
		// Set on the request, the SDK keeps them: one client per region
		// serves every product.
		r.SetScheme(ep[0])
		r.SetDomain(ep[1])
	}
	if !c.cfg.NoPace {
		if err := c.pace.wait(ctx, a.Service+"."+a.Name); err != nil {
			return fmt.Errorf("%s %s: waiting for the rate limit: %w", a.Service, a.Name, err)
		}
	}
	// The exchange's bound is a context deadline rather than the SDK's
	// http.Client.Timeout: net/http enforces a client timeout over a
	// transport it does not know (statusRecorder) with a goroutine and a
	// timer per request, and a deadline with neither.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ex := new(exchange)
	r.SetContext(context.WithValue(ctx, statusKey{}, ex))
	out := &rawResponse{seen: ex}
	if err := c.send(a, r, out); err != nil {
		return convert(a, err, ex.status)
	}
	// An answer that does not decode came from something that is not the
	// API (a proxy, a truncated body): the action may have run, so it is
	// ambiguous like the SDK's own ParseJsonError, never a permanent failure.
	var env struct {
		Response json.RawMessage
	}
	if err := json.Unmarshal(out.body, &env); err != nil || isNull(env.Response) {
		if err == nil {
			err = errors.New("the answer has no Response")
		}
		return unreadable(a, ex.status, err)
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(env.Response, resp); err != nil {
		return unreadable(a, ex.status, err)
	}
	return nil
}

// Read is Call for an action that only reads: transient failures are tried
// again with backoff (apierr.RetryRead), permanent ones and a done context
// return at once, and the last error is returned as is, so callers classify
// it as they would Call's. Use it where one failure costs far more than a
// retry: discovery makes one read per instance, and a single fault failed
// the whole nightly fan-out, whose retries started over
// (TestNightlyFanOutRidesOutTransientFaults). Not for status polls: the
// poll step's own backoff re-schedules those.
func (c *Client) Read(ctx context.Context, a Action, req, resp any) error {
	return apierr.RetryRead(ctx, c.cfg.Sleep, func() error { return c.Call(ctx, a, req, resp) })
}

// rawRequest is an action whose parameters are already JSON: the SDK signs
// and sends what MarshalJSON returns, as for its generated request types.
// Its generic CommonRequest holds them in a map instead, which cost a
// decode and a reflective, key-sorting encode per call, and turned every
// number into a float64 unless decoded with UseNumber first (ids above
// 2^53 would change).
type rawRequest struct {
	*tchttp.BaseRequest
	body []byte
}

func (r *rawRequest) MarshalJSON() ([]byte, error) { return r.body, nil }

// rawResponse keeps the answer's bytes. The SDK still reads its error
// envelope (BaseResponse); its CommonResponse would also decode the whole
// answer into a map of float64s that the caller encodes again.
type rawResponse struct {
	tchttp.BaseResponse
	body []byte
	seen *exchange
}

// ParseErrorFromHTTPResponse is the SDK's own check of the error envelope
// (two decodes of the whole answer), skipped where the SDK has just made it
// on these very bytes: its Send reads every answer's envelope first
// (tchttp.TryReadErr, the same two decodes) and returns on any error it
// finds, except for the two content types TryReadErr does not read. A
// repeat of a check on the same bytes can only pass, and it cost a fifth of
// Send's CPU on the large DescribeBackups answers.
// TestErrorEnvelopeReportedForEveryContentType holds both paths to the SDK.
func (r *rawResponse) ParseErrorFromHTTPResponse(body []byte) error {
	if r.seen != nil && r.seen.status == http.StatusOK && screenedBySend(r.seen.contentType) {
		return nil
	}
	return r.BaseResponse.ParseErrorFromHTTPResponse(body)
}

// screenedBySend says whether the SDK's TryReadErr reads an answer of this
// content type (it passes over these two unread).
func screenedBySend(contentType string) bool {
	switch contentType {
	case "text/event-stream", "application/octet-stream":
		return false
	}
	return true
}

func (r *rawResponse) UnmarshalJSON(b []byte) error {
	r.body = append(r.body[:0], b...)
	return nil
}

// send runs the SDK and turns a panic inside it into an ambiguous error:
// the SDK dereferences the answer without checks, so a body of exactly
// `null` panicked, killed the drain batch and the message came back forever.
func (c *Client) send(a Action, r tchttp.Request, out tchttp.Response) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s %s: the SDK failed reading the answer: %v", a.Service, a.Name, p)
		}
	}()
	return c.client(a.Region).Send(r, out)
}

func isNull(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null"
}

func unreadable(a Action, status int, err error) error {
	return apierr.New(apierr.Tencent, a.Service, a.Name, "ClientError.ParseJsonError",
		"unreadable answer: "+err.Error(), "", status, err)
}

func convert(a Action, err error, status int) error {
	var se *sdkerr.TencentCloudSDKError
	if errors.As(err, &se) {
		return apierr.New(apierr.Tencent, a.Service, a.Name, se.GetCode(), se.GetMessage(), se.GetRequestId(), status, err)
	}
	code := "ClientError.NetworkError"
	if status != 0 {
		code = "ClientError.ParseJsonError" // an answer came, the SDK could not read it (a recovered panic)
	}
	return apierr.New(apierr.Tencent, a.Service, a.Name, code, err.Error(), "", status, err)
}
