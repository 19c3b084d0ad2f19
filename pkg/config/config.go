package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/secret"
)

// Config is every setting. Field tags name the variables; defaults run the
// whole system in one process against nothing but memory.
type Config struct {
	// Queues and ledger, by URL: mem://name, cmq://name?..., sqs://...
	WorkQueue string `envconfig:"BACKUPFLOW_WORK_QUEUE" default:"mem://backupflow-work"`
	PollQueue string `envconfig:"BACKUPFLOW_POLL_QUEUE" default:"mem://backupflow-poll"`
	DeadQueue string `envconfig:"BACKUPFLOW_DEAD_QUEUE" default:"mem://backupflow-dead"`
	Ledger    string `envconfig:"BACKUPFLOW_LEDGER" default:"mem://backupflow"`
	// CMQEndpoint is the TDMQ-for-CMQ data-plane address for receive/delete
	// (console: "API request address"), e.g. https://cmq-gz.public.tencenttdmq.com.
	CMQEndpoint string `envconfig:"BACKUPFLOW_CMQ_ENDPOINT"`

	// Tencent: region (SCF sets TENCENTCLOUD_REGION) and an emulator endpoint.
	TencentRegion   string `envconfig:"TENCENTCLOUD_REGION" default:"ap-guangzhou"`
	TencentEndpoint string `envconfig:"BACKUPFLOW_TENCENT_ENDPOINT"`
	COSEndpoint     string `envconfig:"BACKUPFLOW_COS_ENDPOINT"`
	// ObjectStore is where uploads land: cos (Tencent) or s3 (AWS).
	ObjectStore string `envconfig:"BACKUPFLOW_OBJECT_STORE" default:"cos"`
	// Huawei: region and an emulator endpoint (credentials: HUAWEICLOUD_SDK_*).
	HuaweiRegion   string `envconfig:"BACKUPFLOW_HUAWEI_REGION" default:"cn-north-4"`
	HuaweiEndpoint string `envconfig:"BACKUPFLOW_HUAWEI_ENDPOINT"`
	// AWS: an endpoint override for SQS/S3 (tests); region from AWS_REGION.
	AWSEndpoint string `envconfig:"BACKUPFLOW_AWS_ENDPOINT"`
	AWSRegion   string `envconfig:"AWS_REGION" default:"us-east-1"`

	// Scope of the nightly run.
	Targets     Targets     `envconfig:"BACKUPFLOW_TARGETS"`
	DiscoverTag string      `envconfig:"BACKUPFLOW_DISCOVER_TAG" default:"backupflow=nightly"`
	ImportRules ImportRules `envconfig:"BACKUPFLOW_IMPORT_RULES"`
	MaxTargets  int         `envconfig:"BACKUPFLOW_MAX_TARGETS" default:"20000"`
	Products    []string    `envconfig:"BACKUPFLOW_PRODUCTS" default:"mysql,sqlserver,mongodb,huawei-rds"`

	MaxAttempts    int           `envconfig:"BACKUPFLOW_MAX_ATTEMPTS" default:"12"`
	BackupDeadline time.Duration `envconfig:"BACKUPFLOW_BACKUP_DEADLINE" default:"6h"`
	ImportDeadline time.Duration `envconfig:"BACKUPFLOW_IMPORT_DEADLINE" default:"12h"`
	PresignTTL     time.Duration `envconfig:"BACKUPFLOW_PRESIGN_TTL" default:"1h"`
	// Poll tuning; the defaults suit real clouds. FirstPoll replaces the
	// product's typical job duration for an instance with no history.
	PollMin   time.Duration `envconfig:"BACKUPFLOW_POLL_MIN" default:"20s"`
	FirstPoll time.Duration `envconfig:"BACKUPFLOW_FIRST_POLL"`

	// Notifications: a comma-separated channel list (see pkg/notify).
	Notify     secret.String `envconfig:"BACKUPFLOW_NOTIFY" default:"print:"`
	NotifyMode string        `envconfig:"BACKUPFLOW_NOTIFY_MODE" default:"all"` // all | failures

	LogLevel  string `envconfig:"BACKUPFLOW_LOG_LEVEL" default:"info"`
	LogFormat string `envconfig:"BACKUPFLOW_LOG_FORMAT" default:"json"`
}

// Load reads the environment. Errors name the variable, never its value.
func Load() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, Quiet(err)
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Quiet rewrites an envconfig error so it names the variable and the type
// wanted but not the value: envconfig quotes the value, and a value in the
// wrong variable may be a credential.
func Quiet(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("config: %s: cannot read the value as %s", pe.KeyName, pe.TypeName)
	}
	return fmt.Errorf("config: %w", err)
}

func (c Config) validate() error {
	switch c.NotifyMode {
	case "all", "failures":
	default:
		return fmt.Errorf("config: BACKUPFLOW_NOTIFY_MODE must be all or failures")
	}
	if c.DiscoverTag != "" {
		if _, _, err := flow.ParseTag(c.DiscoverTag); err != nil {
			return fmt.Errorf("config: BACKUPFLOW_DISCOVER_TAG: %w", err)
		}
	}
	if c.MaxTargets <= 0 || c.MaxAttempts <= 0 {
		return fmt.Errorf("config: BACKUPFLOW_MAX_TARGETS and BACKUPFLOW_MAX_ATTEMPTS must be positive")
	}
	return nil
}

// Flow returns the flow settings.
func (c Config) Flow() flow.Config {
	return flow.Config{
		Targets: c.Targets, DiscoverTag: c.DiscoverTag, ImportRules: c.ImportRules,
		MaxTargets: c.MaxTargets, MaxAttempts: c.MaxAttempts,
		BackupDeadline: c.BackupDeadline, ImportDeadline: c.ImportDeadline, PresignTTL: c.PresignTTL,
		PollMin: c.PollMin, FirstPoll: c.FirstPoll,
		QuietSuccess: true,
	}
}

// Targets decodes BACKUPFLOW_TARGETS: a JSON array of flow.Target, or a
// comma-separated list of instance ids with an optional ":method".
type Targets []flow.Target

// Decode implements envconfig.Decoder.
func (t *Targets) Decode(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		return json.Unmarshal([]byte(v), (*[]flow.Target)(t))
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, method, _ := strings.Cut(item, ":")
		*t = append(*t, flow.Target{InstanceID: id, Method: method})
	}
	return nil
}

// ImportRules decodes BACKUPFLOW_IMPORT_RULES: a JSON array of
// flow.ImportRule, or "pattern=instance" pairs separated by commas.
type ImportRules []flow.ImportRule

// Decode implements envconfig.Decoder.
func (r *ImportRules) Decode(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		return json.Unmarshal([]byte(v), (*[]flow.ImportRule)(r))
	}
	for _, item := range strings.Split(v, ",") {
		pat, inst, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || pat == "" || inst == "" {
			return fmt.Errorf("import rule %q: want pattern=instance (instance may be {1})", item)
		}
		*r = append(*r, flow.ImportRule{Pattern: pat, Instance: inst})
	}
	return nil
}
