package tencent

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

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
	cfg    Config
	scheme string // "HTTP" or "HTTPS"
	host   string // empty: <service>.<root domain>
	http   *http.Client
	keys   tc3Keys
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
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	// No http.Client.Timeout: Call bounds each exchange with a context
	// deadline, which net/http enforces with neither a goroutine nor a
	// timer per request over a transport it does not know.
	c := &Client{cfg: cfg, scheme: "HTTPS", http: &http.Client{Transport: base}, services: map[string][2]string{},
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
// a scheme ("HTTP"/"HTTPS") and host. A bare host:port means plain
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
	if !c.cfg.NoPace {
		if err := c.pace.wait(ctx, a.Service+"."+a.Name); err != nil {
			return fmt.Errorf("%s %s: waiting for the rate limit: %w", a.Service, a.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	status, answer, err := c.exchange(ctx, a, body)
	if err != nil {
		return err
	}
	return decodeAnswer(a, status, answer, resp)
}

// maxAnswer bounds an answer read into memory; the largest the providers
// ask for (a page of 100 backups) is a few hundred KB.
const maxAnswer = 32 << 20

// exchange signs and sends one action and reads its answer: the HTTP
// status and body, or a network error. A failure after the request may
// have left the action run: the error is ambiguous (NetworkError) or, for
// an unreadable answer, ParseJsonError with the status, as the SDK's were.
func (c *Client) exchange(ctx context.Context, a Action, body []byte) (int, []byte, error) {
	region := a.Region
	if region == "" {
		region = c.cfg.Region
	}
	scheme, host := c.scheme, c.host
	if ep, ok := c.services[a.Service]; ok {
		scheme, host = ep[0], ep[1]
	}
	if host == "" {
		root := c.cfg.RootDomain
		if root == "" {
			root = "tencentcloudapi.com"
		}
		host = a.Service + "." + root
	}
	// An endpoint may carry a path ("host:port/prefix"): as the SDK did,
	// the host is what is signed and sent as Host, the rest is the path.
	host, path, _ := strings.Cut(host, "/")
	u := "https://" + host + "/" + path
	if scheme == "HTTP" {
		u = "http://" + host + "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", a.Service, a.Name, err)
	}
	// The signature is checked against the cloud's clock: the wall clock,
	// never a simulation's.
	ts := time.Now().Unix()
	key := c.keys.get(c.cfg.Credentials.SecretKey.Reveal(), tc3Date(ts), a.Service)
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["X-Tc-Action"] = []string{a.Name}
	h["X-Tc-Version"] = []string{a.Version}
	h["X-Tc-Timestamp"] = []string{fmt.Sprint(ts)}
	h["X-Tc-Language"] = []string{"en-US"}
	h["X-Tc-Requestclient"] = []string{"backupflow"}
	if region != "" {
		h["X-Tc-Region"] = []string{region}
	}
	if t := c.cfg.Credentials.Token.Reveal(); t != "" {
		h["X-Tc-Token"] = []string{t}
	}
	h["Authorization"] = []string{tc3Authorization(c.cfg.Credentials.SecretID, key, a.Service, host, ts, body)}
	hr, err := c.http.Do(req)
	if err != nil {
		return 0, nil, apierr.New(apierr.Tencent, a.Service, a.Name, "ClientError.NetworkError", err.Error(), "", 0, err)
	}
	defer hr.Body.Close()
	in, err := decoded(hr)
	if err != nil {
		return hr.StatusCode, nil, unreadable(a, hr.StatusCode, err)
	}
	b, err := io.ReadAll(io.LimitReader(in, maxAnswer+1))
	if err == nil && len(b) > maxAnswer {
		err = fmt.Errorf("the answer is over %d bytes", maxAnswer)
	}
	if err != nil {
		return hr.StatusCode, nil, unreadable(a, hr.StatusCode, err)
	}
	return hr.StatusCode, b, nil
}

// decoded undoes a Content-Encoding net/http left in place (it undoes only
// the gzip it asked for itself), as the SDK did.
func decoded(hr *http.Response) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(hr.Header.Get("Content-Encoding"))) {
	case "gzip":
		return gzip.NewReader(hr.Body)
	case "deflate":
		return flate.NewReader(hr.Body), nil
	}
	return hr.Body, nil
}

// envelope is what every answer is read for first: API 3.0's error, or
// the deprecated API's, which some gateways still answer with.
type envelope struct {
	Response *apiError
	Code     int    `json:"code"`
	Message  string `json:"message"`
	CodeDesc string `json:"codeDesc"`
}

// apiError is API 3.0's error, and the request id, in a Response.
type apiError struct {
	Error *struct {
		Code    string
		Message string
	}
	RequestId string
}

// decodeAnswer reads an answer's error envelope, whatever its content type
// or status, then its Response into resp. Cloud errors come back as
// *apierr.Error with the code, message, request id and status. An answer
// that does not decode came from something that is not the API (a proxy,
// a truncated body): the action may have run, so it is ambiguous, never a
// permanent failure.
func decodeAnswer(a Action, status int, b []byte, resp any) error {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		// A stray field of another type beside the Response must not hide
		// the API's own error, which the SDK read in a decode of its own.
		var only struct{ Response *apiError }
		if json.Unmarshal(b, &only) == nil && only.Response != nil && only.Response.Error != nil && only.Response.Error.Code != "" {
			r := only.Response
			return apierr.New(apierr.Tencent, a.Service, a.Name, r.Error.Code, r.Error.Message, r.RequestId, status, nil)
		}
		return unreadable(a, status, err)
	}
	if r := env.Response; r != nil && r.Error != nil && r.Error.Code != "" {
		return apierr.New(apierr.Tencent, a.Service, a.Name, r.Error.Code, r.Error.Message, r.RequestId, status, nil)
	}
	if env.Code != 0 {
		return apierr.New(apierr.Tencent, a.Service, a.Name, env.CodeDesc, env.Message, "", status, nil)
	}
	if status != http.StatusOK {
		return apierr.New(apierr.Tencent, a.Service, a.Name, "ClientError.HttpStatusCodeError",
			fmt.Sprintf("HTTP %d with no error in the answer: %.200s", status, b), "", status, nil)
	}
	if env.Response == nil {
		return unreadable(a, status, errors.New("the answer has no Response"))
	}
	if resp == nil {
		return nil
	}
	if v := reflect.ValueOf(resp); v.Kind() != reflect.Pointer || v.IsNil() {
		// The answer would be dropped in silence (decoded into a map).
		return unreadable(a, status, fmt.Errorf("cannot decode the answer into a %T: want a non-nil pointer", resp))
	}
	// One decode, into resp itself: an interface holding a pointer is
	// decoded into what it points at.
	if err := json.Unmarshal(b, &struct{ Response any }{resp}); err != nil {
		return unreadable(a, status, err)
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

func unreadable(a Action, status int, err error) error {
	return apierr.New(apierr.Tencent, a.Service, a.Name, "ClientError.ParseJsonError",
		"unreadable answer: "+err.Error(), "", status, err)
}
