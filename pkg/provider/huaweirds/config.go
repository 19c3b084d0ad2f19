package huaweirds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/secret"
)

// Environment variables read by ConfigFromEnv. The three credentials are
// the official SDK's names, so a shell set up for hcloud works unchanged.
const (
	EnvAK        = "HUAWEICLOUD_SDK_AK"
	EnvSK        = "HUAWEICLOUD_SDK_SK"
	EnvProjectID = "HUAWEICLOUD_SDK_PROJECT_ID"
	EnvRegion    = "BACKUPFLOW_HUAWEI_REGION"
	EnvEndpoint  = "BACKUPFLOW_HUAWEI_ENDPOINT"
)

// DefaultRegion is used when no region is configured.
const DefaultRegion = "cn-north-4"

// DefaultTimeout bounds one HTTP exchange when Config.Timeout is zero.
const DefaultTimeout = 20 * time.Second

// Config configures a Provider.
type Config struct {
	AK string
	SK secret.String
	// ProjectID is required: looking it up would be an IAM call on every
	// cold start.
	ProjectID string
	// Region selects the real endpoint rds.<region>.myhuaweicloud.com and is
	// reported on discovered instances; default cn-north-4.
	Region string
	// Endpoint, when set, sends every call there instead (an emulator):
	// host:port (plain HTTP) or an http(s) URL.
	Endpoint string
	// Now is the clock used to date (sign) requests; default time.Now. An
	// emulator on a virtual clock checks X-Sdk-Date against its own time.
	Now func() time.Time
	// Sleep waits between the attempts of a retried read (discovery's
	// pages); default a timer. A test's clock advances instead.
	Sleep func(context.Context, time.Duration) error
	// Timeout bounds each HTTP exchange; default DefaultTimeout.
	Timeout time.Duration
	// Transport overrides the HTTP transport (an in-process emulator);
	// nil is http.DefaultTransport at call time.
	Transport http.RoundTripper
}

// ConfigFromEnv reads a Config through getenv (os.Getenv in a main). Missing
// variables are named in the error; their values never appear in it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		AK:        strings.TrimSpace(getenv(EnvAK)),
		SK:        secret.String(strings.TrimSpace(getenv(EnvSK))),
		ProjectID: strings.TrimSpace(getenv(EnvProjectID)),
		Region:    strings.TrimSpace(getenv(EnvRegion)),
		Endpoint:  strings.TrimSpace(getenv(EnvEndpoint)),
		Now:       time.Now,
	}
	var missing []string
	for _, v := range []struct {
		name string
		set  bool
	}{{EnvAK, c.AK != ""}, {EnvSK, c.SK.IsSet()}, {EnvProjectID, c.ProjectID != ""}} {
		if !v.set {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("huaweirds: missing environment variables %s", strings.Join(missing, ", "))
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	return c, nil
}

// The project id and region are checked by hand, not by regexp: every
// function wires this provider on its first invocation, and compiling
// `^[0-9a-zA-Z]{1,64}$` (a bounded repetition expands into 64 copies of
// the class) took 0.35–0.6 ms of each cold start, more than all of our
// packages' init.

// validProjectID: 1-64 ASCII letters and digits.
func validProjectID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !lowerOrDigit(c) && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// validRegion: runs of lower-case letters and digits joined by single
// dashes (cn-north-4).
func validRegion(s string) bool {
	dash := true // a leading dash is refused like a doubled one
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' && !dash:
			dash = true
		case lowerOrDigit(c):
			dash = false
		default:
			return false
		}
	}
	return !dash
}

func lowerOrDigit(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// endpointURL resolves the endpoint every call goes to: the configured one,
// or the region's real endpoint. A bare host:port means plain HTTP because
// that is what a local emulator speaks.
func endpointURL(endpoint, region string) (string, error) {
	if endpoint == "" {
		return "https://rds." + region + ".myhuaweicloud.com", nil
	}
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#@ ") {
			return "", fmt.Errorf("huaweirds: endpoint: want host:port or http(s)://host:port")
		}
		return "http://" + endpoint, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("huaweirds: endpoint: want host:port or http(s)://host:port")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("huaweirds: endpoint: scheme must be http or https")
	}
	return u.Scheme + "://" + u.Host, nil
}

func (c Config) check() error {
	// Both keys empty would mean the ECS metadata service's temporary
	// keys, which this provider does not fetch; one empty is a
	// misconfiguration. Refuse both.
	if c.AK == "" || !c.SK.IsSet() {
		return errors.New("huaweirds: AK and SK are both required")
	}
	if !validProjectID(c.ProjectID) {
		return errors.New("huaweirds: project id is missing or malformed")
	}
	if !validRegion(c.Region) {
		return fmt.Errorf("huaweirds: region is malformed (want e.g. cn-north-4)")
	}
	return nil
}
