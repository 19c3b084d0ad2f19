package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/secret"
)

// Config configures an S3 store.
type Config struct {
	Region string
	// Static credentials; on Lambda they are the role's AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
	AccessKeyID     string
	SecretAccessKey secret.String
	SessionToken    secret.String
	// Endpoint overrides the S3 endpoint (an emulator or a test server,
	// "http://host:port"); empty means AWS. It implies path-style addressing.
	Endpoint string
	// UsePathStyle forces path-style addressing without an Endpoint.
	UsePathStyle bool
	// HTTPClient overrides the transport (tests).
	HTTPClient *http.Client
}

// Settings are the variables an S3 store is opened with, read through
// config.ProcessFrom like every other setting (empty means unset). On
// Lambda the keys are the execution role's.
type Settings struct {
	Region string `env:"AWS_REGION" default:"us-east-1"`
	// Endpoint overrides the S3 endpoint (an emulator or a test server).
	Endpoint        string        `env:"BACKUPFLOW_AWS_ENDPOINT"`
	AccessKeyID     string        `env:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey secret.String `env:"AWS_SECRET_ACCESS_KEY"`
	SessionToken    secret.String `env:"AWS_SESSION_TOKEN"`
}

// SettingsFrom reads Settings through getenv.
func SettingsFrom(getenv func(string) string) (Settings, error) {
	var st Settings
	if err := config.ProcessFrom(getenv, &st); err != nil {
		return st, fmt.Errorf("s3 settings: %w", err)
	}
	return st, nil
}

// ConfigFrom is the Config a deployed function opens S3 with: Settings
// from env.Getenv and env's HTTP client.
func ConfigFrom(env openurl.Env) (Config, error) {
	st, err := SettingsFrom(env.Lookup)
	if err != nil {
		return Config{}, err
	}
	return Config{Region: st.Region, Endpoint: st.Endpoint, AccessKeyID: st.AccessKeyID,
		SecretAccessKey: st.SecretAccessKey, SessionToken: st.SessionToken, HTTPClient: env.HTTPClient}, nil
}

func init() {
	objstore.Openers.Register("s3", openURL)
}

// openURL serves s3:// (every bucket the credentials reach; events and jobs
// name the bucket).
func openURL(_ context.Context, u *url.URL, env openurl.Env) (objstore.Store, error) {
	if u.Host != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("s3: want s3:// alone (buckets are named per object)")
	}
	cfg, err := ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}
