package config

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/reportlink"
	"github.com/backupflow/backupflow/pkg/retention"
	"github.com/backupflow/backupflow/pkg/secret"
)

// Config is every setting. Field tags name the variables; defaults run the
// whole system in one process against nothing but memory.
type Config struct {
	// Queues and ledger, by URL: mem://name, cmq://name?..., sqs://...
	// Each driver reads its own settings through ProcessFrom: endpoints,
	// regions and keys of queues (cmqqueue.Settings, sqsqueue.Settings),
	// ledgers and object stores (cosstore.Settings, s3store.Settings).
	WorkQueue string `env:"BACKUPFLOW_WORK_QUEUE" default:"mem://backupflow-work"`
	PollQueue string `env:"BACKUPFLOW_POLL_QUEUE" default:"mem://backupflow-poll"`
	DeadQueue string `env:"BACKUPFLOW_DEAD_QUEUE" default:"mem://backupflow-dead"`
	Ledger    string `env:"BACKUPFLOW_LEDGER" default:"mem://backupflow"`
	// Tencent: region (SCF sets TENCENTCLOUD_REGION) and an emulator endpoint.
	TencentRegion   string `env:"TENCENTCLOUD_REGION" default:"ap-guangzhou"`
	TencentEndpoint string `env:"BACKUPFLOW_TENCENT_ENDPOINT"`
	// The international site: a root domain (intl.tencentcloudapi.com) and
	// per-product hosts ("cdb=cdb.ap-singapore.intl.tencentcloudapi.com,...").
	TencentRootDomain string `env:"BACKUPFLOW_TENCENT_ROOT_DOMAIN"`
	TencentEndpoints  string `env:"BACKUPFLOW_TENCENT_ENDPOINTS"`
	// ObjectStore is where uploads land: cos (Tencent) or s3 (AWS).
	ObjectStore string `env:"BACKUPFLOW_OBJECT_STORE" default:"cos"`
	// Huawei: region and an emulator endpoint (credentials: HUAWEICLOUD_SDK_*).
	HuaweiRegion   string `env:"BACKUPFLOW_HUAWEI_REGION" default:"cn-north-4"`
	HuaweiEndpoint string `env:"BACKUPFLOW_HUAWEI_ENDPOINT"`

	// Scope of the nightly run.
	Targets     Targets     `env:"BACKUPFLOW_TARGETS"`
	DiscoverTag string      `env:"BACKUPFLOW_DISCOVER_TAG" default:"backupflow=nightly"`
	ImportRules ImportRules `env:"BACKUPFLOW_IMPORT_RULES"`
	MaxTargets  int         `env:"BACKUPFLOW_MAX_TARGETS" default:"20000"`
	Products    []string    `env:"BACKUPFLOW_PRODUCTS" default:"mysql,sqlserver,mongodb,huawei-rds"`

	RetryBudget    time.Duration `env:"BACKUPFLOW_RETRY_BUDGET" default:"2h"`
	BackupDeadline time.Duration `env:"BACKUPFLOW_BACKUP_DEADLINE" default:"6h"`
	ImportDeadline time.Duration `env:"BACKUPFLOW_IMPORT_DEADLINE" default:"12h"`
	PresignTTL     time.Duration `env:"BACKUPFLOW_PRESIGN_TTL" default:"1h"`
	// Poll tuning; the defaults suit real clouds. FirstPoll replaces the
	// product's typical job duration for an instance with no history.
	PollMin   time.Duration `env:"BACKUPFLOW_POLL_MIN" default:"20s"`
	FirstPoll time.Duration `env:"BACKUPFLOW_FIRST_POLL"`
	// DrainWorkers: how many messages a drain handles at once
	// (function.DefaultWorkers says why 8; a test keeps the two equal).
	DrainWorkers int `env:"BACKUPFLOW_DRAIN_WORKERS" default:"8"`
	// Consumers: each instance of create-backup paces creates at 1/Consumers
	// of the limits (docs/operations.md: 1 measured best with Lambda's
	// MaximumConcurrency 2).
	Consumers int `env:"BACKUPFLOW_CONSUMERS" default:"1"`
	// NotifyLease: how long a redelivery waits for an outcome's claimant to
	// notify before sending the notification itself (docs/reliability.md).
	NotifyLease time.Duration `env:"BACKUPFLOW_NOTIFY_LEASE" default:"30s"`
	// StaleAfter: a target with no successful backup for longer is
	// notified once, until it recovers (checked on the drain timer).
	StaleAfter time.Duration `env:"BACKUPFLOW_STALE_AFTER" default:"36h"`
	// Retention: the rule for targets without their own ("keep-last=N",
	// "keep-days=D", both, or none); the share of a pass's backupflow
	// backups it may delete; and the switch that turns deletion on (off:
	// retention only reports what it would delete).
	Retention       RetentionRule `env:"BACKUPFLOW_RETENTION" default:"none"`
	RetentionShare  float64       `env:"BACKUPFLOW_RETENTION_SHARE" default:"0.5"`
	RetentionDelete bool          `env:"BACKUPFLOW_RETENTION_DELETE" default:"false"`

	// ReportURL is where the chatops web function serves report pages
	// (https://<its address>/report); with ReportSecret set, the nightly
	// summary links its run's page there, signed and valid for
	// ReportLinkTTL (pkg/reportlink). The chatops function serves pages
	// only with the secret set.
	ReportURL     string        `env:"BACKUPFLOW_REPORT_URL"`
	ReportSecret  secret.String `env:"BACKUPFLOW_REPORT_SECRET"`
	ReportLinkTTL time.Duration `env:"BACKUPFLOW_REPORT_LINK_TTL" default:"168h"`

	// Notifications: a comma-separated channel list (see pkg/notify).
	Notify     secret.String `env:"BACKUPFLOW_NOTIFY" default:"print:"`
	NotifyMode string        `env:"BACKUPFLOW_NOTIFY_MODE" default:"all"` // all | failures
	// NotifyHeartbeat: with NotifyMode failures, the nightly summary of a
	// run where every job succeeded is still sent, once a day, so that
	// silence cannot mean the run never happened; false drops it too.
	NotifyHeartbeat bool `env:"BACKUPFLOW_NOTIFY_HEARTBEAT" default:"true"`

	LogLevel  string `env:"BACKUPFLOW_LOG_LEVEL" default:"info"`
	LogFormat string `env:"BACKUPFLOW_LOG_FORMAT" default:"json"`
}

// DiscoverOff is the BACKUPFLOW_DISCOVER_TAG value that turns discovery by
// tag off. An empty value cannot: empty means unset (see LoadFrom).
const DiscoverOff = "none"

// Load reads the process environment: LoadFrom(os.Getenv). Every process
// (the functions, the CLI, the local stack, `invoke`) reads its settings
// through LoadFrom, so a variable means the same everywhere.
func Load() (Config, error) { return LoadFrom(os.Getenv) }

// LoadFrom reads every setting through getenv, so one process can hold
// several configurations side by side (the local stack wires each function
// from its own serverless.yml environment).
//
// A variable set to "" means the same as an unset one: its default. Deploy
// tools write "" for a setting nobody filled in (serverless.yml
// ${env:NAME} of an unset NAME, a SAM parameter left empty), and a function
// must not read that as a deliberate choice. A setting that can be switched
// off has a word for it (BACKUPFLOW_DISCOVER_TAG=none). Errors name the
// variable, never its value.
func LoadFrom(getenv func(string) string) (Config, error) {
	var c Config
	if err := ProcessFrom(getenv, &c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	return c, nil
}

// maxDrainWorkers bounds BACKUPFLOW_DRAIN_WORKERS (and BACKUPFLOW_CONSUMERS): past the products'
// combined create rate times a call's latency more workers only wait for
// the pacer, and each holds a connection and a message's memory.
const maxDrainWorkers = 64

func (c Config) validate() error {
	switch c.NotifyMode {
	case "all", "failures":
	default:
		return fmt.Errorf("config: BACKUPFLOW_NOTIFY_MODE must be all or failures")
	}
	if c.DiscoverTag != DiscoverOff {
		if _, _, err := flow.ParseTag(c.DiscoverTag); err != nil {
			return fmt.Errorf("config: BACKUPFLOW_DISCOVER_TAG: want key=value, or %s to turn discovery off", DiscoverOff)
		}
	}
	if !(c.RetentionShare > 0 && c.RetentionShare <= 1) {
		return fmt.Errorf("config: BACKUPFLOW_RETENTION_SHARE must be above 0 and at most 1")
	}
	if c.ReportSecret.IsSet() && len(c.ReportSecret.Reveal()) < reportlink.MinSecret {
		return fmt.Errorf("config: BACKUPFLOW_REPORT_SECRET must be at least %d bytes (openssl rand -hex 32 makes one)", reportlink.MinSecret)
	}
	if c.ReportURL != "" && (!c.ReportSecret.IsSet() || c.ReportLinkTTL <= 0 ||
		!(strings.HasPrefix(c.ReportURL, "https://") || strings.HasPrefix(c.ReportURL, "http://"))) {
		return fmt.Errorf("config: BACKUPFLOW_REPORT_URL wants an http(s) URL, BACKUPFLOW_REPORT_SECRET and a positive BACKUPFLOW_REPORT_LINK_TTL")
	}
	if c.Consumers < 1 || c.Consumers > maxDrainWorkers {
		return fmt.Errorf("config: BACKUPFLOW_CONSUMERS must be from 1 to %d (got %d)", maxDrainWorkers, c.Consumers)
	}
	if c.DrainWorkers < 1 || c.DrainWorkers > maxDrainWorkers {
		return fmt.Errorf("config: BACKUPFLOW_DRAIN_WORKERS must be from 1 to %d (got %d)", maxDrainWorkers, c.DrainWorkers)
	}
	if c.MaxTargets <= 0 || c.RetryBudget <= 0 || c.StaleAfter <= 0 {
		return fmt.Errorf("config: BACKUPFLOW_MAX_TARGETS, BACKUPFLOW_RETRY_BUDGET and BACKUPFLOW_STALE_AFTER must be positive")
	}
	return nil
}

// Flow returns the flow settings.
func (c Config) Flow() flow.Config {
	tag := c.DiscoverTag
	if tag == DiscoverOff {
		tag = ""
	}
	return flow.Config{
		Targets: c.Targets, DiscoverTag: tag, ImportRules: c.ImportRules,
		MaxTargets: c.MaxTargets, RetryBudget: c.RetryBudget,
		BackupDeadline: c.BackupDeadline, ImportDeadline: c.ImportDeadline, PresignTTL: c.PresignTTL,
		PollMin: c.PollMin, FirstPoll: c.FirstPoll, NotifyLease: c.NotifyLease, StaleAfter: c.StaleAfter,
		QuietSuccess: true,
		Retention:    retention.Rule(c.Retention), RetentionShare: c.RetentionShare, RetentionDelete: c.RetentionDelete,
	}
}

// RetentionRule decodes BACKUPFLOW_RETENTION (retention.Parse).
type RetentionRule retention.Rule

// Decode implements Decoder.
func (r *RetentionRule) Decode(v string) error {
	rule, err := retention.Parse(v)
	if err != nil {
		return err
	}
	*r = RetentionRule(rule)
	return nil
}

// Targets decodes BACKUPFLOW_TARGETS: a JSON array of flow.Target, or a
// comma-separated list of instance ids with an optional ":method".
type Targets []flow.Target

// Decode implements Decoder.
func (t *Targets) Decode(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		if json.Unmarshal([]byte(v), (*[]flow.Target)(t)) != nil {
			return fmt.Errorf(`not a JSON array of {"instance":…,"method":…}`)
		}
		for _, tg := range *t {
			if err := tg.Validate(); err != nil {
				return err
			}
		}
		return nil
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

// Decode implements Decoder.
func (r *ImportRules) Decode(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		if json.Unmarshal([]byte(v), (*[]flow.ImportRule)(r)) != nil {
			return fmt.Errorf(`not a JSON array of {"pattern":…,"instance":…}`)
		}
		return nil
	}
	for i, item := range strings.Split(v, ",") {
		pat, inst, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || pat == "" || inst == "" {
			// The position, not the text: a value is never echoed.
			return fmt.Errorf("import rule %d: want pattern=instance (instance may be {1})", i+1)
		}
		*r = append(*r, flow.ImportRule{Pattern: pat, Instance: inst})
	}
	return nil
}
