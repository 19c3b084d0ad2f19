package tencent

import (
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
	// Timeout bounds each HTTP exchange; default 20 s.
	Timeout time.Duration
	// Transport overrides the HTTP transport (tests, in-process emulator).
	Transport http.RoundTripper
}

// Client sends API 3.0 actions. Safe for concurrent use.
type Client struct {
	cfg     Config
	scheme  string
	host    string
	mu      sync.Mutex
	clients map[string]*common.Client // by region
}

// New returns a Client; it does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.Credentials.SecretID == "" {
		return nil, errors.New("tencent: no credentials")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	c := &Client{cfg: cfg, scheme: "HTTPS", clients: map[string]*common.Client{}}
	if cfg.Endpoint != "" {
		scheme, host, err := ParseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		c.scheme, c.host = scheme, host
	}
	return c, nil
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
		return "", "", fmt.Errorf("tencent endpoint %q: want host:port or http(s)://host:port", ep)
	}
	switch u.Scheme {
	case "http":
		return "HTTP", u.Host, nil
	case "https":
		return "HTTPS", u.Host, nil
	}
	return "", "", fmt.Errorf("tencent endpoint %q: scheme must be http or https", ep)
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
	cpf.HttpProfile.ReqTimeout = int(c.cfg.Timeout / time.Second)
	cpf.HttpProfile.Scheme = c.scheme
	cpf.HttpProfile.Endpoint = c.host // empty: <service>.tencentcloudapi.com
	cpf.Language = "en-US"
	// The region breaker would rewrite the domain to a real Tencent host,
	// bypassing an emulator; retries are the flows' job, by error kind.
	cpf.DisableRegionBreaker = true
	cpf.RateLimitExceededMaxRetries = 0
	cred := common.NewTokenCredential(c.cfg.Credentials.SecretID, c.cfg.Credentials.SecretKey.Reveal(), c.cfg.Credentials.Token.Reveal())
	cl := common.NewCommonClient(cred, region, cpf)
	if c.cfg.Transport != nil {
		cl.WithHttpTransport(c.cfg.Transport)
	}
	c.clients[region] = cl
	return cl
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
	r := tchttp.NewCommonRequest(a.Service, a.Version, a.Name)
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s %s: encode request: %w", a.Service, a.Name, err)
	}
	if err := r.SetActionParameters(body); err != nil {
		return fmt.Errorf("%s %s: %w", a.Service, a.Name, err)
	}
	r.SetContext(ctx)
	out := tchttp.NewCommonResponse()
	if err := c.client(a.Region).Send(r, out); err != nil {
		return convert(a, err)
	}
	var env struct {
		Response json.RawMessage
	}
	if err := json.Unmarshal(out.GetBody(), &env); err != nil {
		return fmt.Errorf("%s %s: decode envelope: %w", a.Service, a.Name, err)
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(env.Response, resp); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", a.Service, a.Name, err)
	}
	return nil
}

func convert(a Action, err error) error {
	var se *sdkerr.TencentCloudSDKError
	if errors.As(err, &se) {
		return apierr.New(apierr.Tencent, a.Service, a.Name, se.GetCode(), se.GetMessage(), se.GetRequestId(), 0, err)
	}
	return apierr.New(apierr.Tencent, a.Service, a.Name, "ClientError.NetworkError", err.Error(), "", 0, err)
}
