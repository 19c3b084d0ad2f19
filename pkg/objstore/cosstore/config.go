package cosstore

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// Config configures a COS store.
type Config struct {
	Credentials tencent.Credentials
	// Region is the long region name of the buckets, e.g. ap-guangzhou.
	Region string
	// Endpoint (BACKUPFLOW_COS_ENDPOINT), when set, is an emulator's
	// host:port or URL. Requests are dialled there but keep the real COS
	// Host (<bucket>.cos.<region>.myqcloud.com), which signs them and names
	// the bucket; presigned URLs still point at the real COS host.
	Endpoint string
	// Now is the clock signatures are made with (presigned URLs and request
	// headers alike), so a test clock shared with the emulator stays
	// consistent; default time.Now.
	Now func() time.Time
	// HTTPClient supplies the base transport and timeout. A non-*http.Transport
	// RoundTripper is used as is, Endpoint notwithstanding.
	HTTPClient *http.Client
}

// Settings are the variables a COS store is opened with, read through
// config.ProcessFrom like every other setting (empty means unset).
// Credentials come from tencent.CredentialsFromEnv.
type Settings struct {
	// Region of the buckets (SCF sets TENCENTCLOUD_REGION).
	Region string `env:"TENCENTCLOUD_REGION" default:"ap-guangzhou"`
	// Endpoint is an emulator's host:port (see Config.Endpoint).
	Endpoint string `env:"BACKUPFLOW_COS_ENDPOINT"`
}

// SettingsFrom reads Settings through getenv.
func SettingsFrom(getenv func(string) string) (Settings, error) {
	var st Settings
	if err := config.ProcessFrom(getenv, &st); err != nil {
		return st, fmt.Errorf("cos settings: %w", err)
	}
	return st, nil
}

// ConfigFrom is the Config a deployed function opens COS with: Settings
// and credentials from env.Getenv, env's clock and HTTP client.
func ConfigFrom(env openurl.Env) (Config, error) {
	st, err := SettingsFrom(env.Lookup)
	if err != nil {
		return Config{}, err
	}
	creds, err := tencent.CredentialsFromEnv(env.Lookup)
	if err != nil {
		return Config{}, fmt.Errorf("cos: %w", err)
	}
	return Config{Credentials: creds, Region: st.Region, Endpoint: st.Endpoint, Now: env.Now, HTTPClient: env.HTTPClient}, nil
}

func init() {
	objstore.Openers.Register("cos", openURL)
}

// openURL serves cos:// (every bucket of the configured region; events and
// jobs name the bucket).
func openURL(_ context.Context, u *url.URL, env openurl.Env) (objstore.Store, error) {
	if u.Host != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("cos: want cos:// alone (buckets are named per object)")
	}
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}
