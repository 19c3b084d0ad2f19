package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/ledger"
	"github.com/backupflow/backupflow/pkg/notify"
	"github.com/backupflow/backupflow/pkg/openurl"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/provider/huaweirds"
	"github.com/backupflow/backupflow/pkg/provider/tcmongodb"
	"github.com/backupflow/backupflow/pkg/provider/tcmysql"
	"github.com/backupflow/backupflow/pkg/provider/tcsqlserver"
	"github.com/backupflow/backupflow/pkg/queue"
	_ "github.com/backupflow/backupflow/pkg/queue/memqueue" // mem:// queues (cmq:// and sqs:// by platform, drivers_*.go)
	"github.com/backupflow/backupflow/pkg/reportlink"
	"github.com/backupflow/backupflow/pkg/tencent"
	"github.com/backupflow/backupflow/pkg/wecom"
)

// Options are the process-level inputs that are not configuration.
type Options struct {
	Function string           // logged on every line
	Now      func() time.Time // default time.Now
	// Sleep is how a paced drain waits (default a real timer); a
	// simulation on a virtual clock passes the clock's.
	Sleep  func(context.Context, time.Duration) error
	Getenv func(string) string
	Stdout io.Writer // logs and print: notifications; default os.Stdout
	Logger *slog.Logger
	// HTTPClient carries every cloud call (tests inject transports).
	HTTPClient *http.Client
	// Seed makes retry jitter reproducible.
	Seed uint64
}

// App is one wired configuration.
type App struct {
	Cfg              config.Config
	Service          *flow.Service
	Work, Poll, Dead *queue.Queue
	Ledger           *ledger.Ledger
	Providers        map[provider.Product]provider.Provider
	Log              *slog.Logger
	Tencent          *tencent.Client // nil when no Tencent product is enabled
	Now              func() time.Time
	Sleep            func(context.Context, time.Duration) error // nil: a real timer
	// Getenv is the environment the App was opened from, for the parts
	// composed on top of it (the chat handler's reply clients).
	Getenv   func(string) string
	notifier *notifier
}

// Open builds every part from cfg. It fails fast, naming the variables to
// set, when an enabled product has no credentials.
func Open(ctx context.Context, cfg config.Config, o Options) (*App, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	log := o.Logger
	if log == nil {
		log = NewLogger(o.Stdout, cfg.LogFormat, cfg.LogLevel)
	}
	if o.Function != "" {
		log = log.With("function", o.Function)
	}
	if o.Sleep != nil {
		// A virtual clock (o.Sleep set) is one goroutine's: a drain worker
		// reads it when it runs, after the drain may have moved it on to a
		// later slot, so its drains run one worker (function.Options.Workers).
		cfg.DrainWorkers = 1
	}
	a := &App{Cfg: cfg, Log: log, Providers: map[provider.Product]provider.Provider{}, Now: o.Now, Sleep: o.Sleep, Getenv: o.Getenv}
	enabled := map[provider.Product]bool{}
	for i, p := range cfg.Products {
		p = strings.TrimSpace(p)
		if !slices.Contains(provider.Products, provider.Product(p)) {
			return nil, fmt.Errorf("BACKUPFLOW_PRODUCTS: item %d is no known product (known: mysql, sqlserver, mongodb, huawei-rds)", i+1)
		}
		enabled[provider.Product(p)] = true
	}
	var tcreds tencent.Credentials
	if enabled[provider.MySQL] || enabled[provider.SQLServer] || enabled[provider.MongoDB] {
		var err error
		if tcreds, err = tencent.CredentialsFromEnv(o.Getenv); err != nil {
			return nil, err
		}
		eps, err := tencent.ParseEndpoints(cfg.TencentEndpoints)
		if err != nil {
			return nil, fmt.Errorf("BACKUPFLOW_TENCENT_ENDPOINTS: %w", err)
		}
		tc := tencent.Config{Credentials: tcreds, Region: cfg.TencentRegion, Endpoint: cfg.TencentEndpoint,
			RootDomain: cfg.TencentRootDomain, Endpoints: eps}
		if o.HTTPClient != nil {
			tc.Transport = o.HTTPClient.Transport
		}
		// A simulation (o.Sleep set) models the limits on its own virtual
		// time; everything else is paced on the wall clock.
		tc.NoPace = o.Sleep != nil
		if o.Sleep != nil {
			// and waits out a retried read's backoff on that time too.
			tc.Now, tc.Sleep = o.Now, o.Sleep
		}
		if a.Tencent, err = tencent.New(tc); err != nil {
			return nil, err
		}
	}
	discover := map[provider.Product]flow.Discoverer{}
	popts := func() (string, func() time.Time) { return cfg.TencentRegion, o.Now }
	if enabled[provider.MySQL] {
		r, now := popts()
		p := tcmysql.New(a.Tencent, tcmysql.Options{Region: r, Now: now})
		a.Providers[provider.MySQL], discover[provider.MySQL] = p, p
	}
	if enabled[provider.SQLServer] {
		r, now := popts()
		p := tcsqlserver.New(a.Tencent, tcsqlserver.Options{Region: r, Now: now})
		a.Providers[provider.SQLServer], discover[provider.SQLServer] = p, p
	}
	if enabled[provider.MongoDB] {
		r, now := popts()
		p := tcmongodb.New(a.Tencent, tcmongodb.Options{Region: r, Now: now})
		a.Providers[provider.MongoDB], discover[provider.MongoDB] = p, p
	}
	if enabled[provider.HuaweiRDS] {
		hc, err := huaweirds.ConfigFromEnv(o.Getenv)
		if err != nil {
			return nil, err
		}
		hc.Now, hc.Sleep = o.Now, o.Sleep
		p, err := huaweirds.New(hc)
		if err != nil {
			return nil, err
		}
		a.Providers[provider.HuaweiRDS], discover[provider.HuaweiRDS] = p, p
	}

	// Each driver (queue, ledger, object store) reads its own settings from
	// the environment.
	env := openurl.Env{Now: o.Now, HTTPClient: o.HTTPClient, Getenv: o.Getenv}
	var err error
	if a.Work, err = queue.Open(ctx, cfg.WorkQueue, env); err != nil {
		return nil, fmt.Errorf("BACKUPFLOW_WORK_QUEUE: %w", err)
	}
	if a.Poll, err = queue.Open(ctx, cfg.PollQueue, env); err != nil {
		return nil, fmt.Errorf("BACKUPFLOW_POLL_QUEUE: %w", err)
	}
	if a.Dead, err = queue.Open(ctx, cfg.DeadQueue, env); err != nil {
		return nil, fmt.Errorf("BACKUPFLOW_DEAD_QUEUE: %w", err)
	}
	objects, err := newObjects(cfg, env)
	if err != nil {
		return nil, err
	}
	if a.Ledger, err = ledger.Open(ctx, cfg.Ledger, env); err != nil {
		return nil, fmt.Errorf("BACKUPFLOW_LEDGER: %w", err)
	}
	n, err := newNotifier(cfg, o)
	if err != nil {
		return nil, err
	}
	n.log = log
	a.notifier = n
	a.Service, err = flow.New(cfg.Flow(), flow.Deps{
		Providers: func(p provider.Product) (provider.Provider, error) {
			pr, ok := a.Providers[p]
			if !ok {
				return nil, fmt.Errorf("product %s is not enabled (BACKUPFLOW_PRODUCTS)", p)
			}
			return pr, nil
		},
		Work: a.Work, Poll: a.Poll, Dead: a.Dead, Ledger: a.Ledger, Notifier: n, Objects: objects,
		Discoverers: discover, Now: o.Now, Logger: log, Seed: o.Seed,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func newNotifier(cfg config.Config, o Options) (*notifier, error) {
	// The mode is applied here, not by the channels: the nightly summary
	// may pass it (BACKUPFLOW_NOTIFY_HEARTBEAT).
	nopts := &notify.Options{Now: o.Now, Stdout: o.Stdout, HTTPClient: o.HTTPClient}
	team, err := notify.ParseList(cfg.Notify.Reveal(), nopts)
	if err != nil {
		return nil, fmt.Errorf("BACKUPFLOW_NOTIFY: %w", err)
	}
	n := &notifier{team: team, replies: map[string]sender{}, now: o.Now,
		failuresOnly: cfg.NotifyMode == "failures", heartbeat: cfg.NotifyHeartbeat}
	if cfg.ReportURL != "" {
		secret, base, ttl, now := []byte(cfg.ReportSecret.Reveal()), cfg.ReportURL, cfg.ReportLinkTTL, o.Now
		n.reportLink = func(run string) string { return reportlink.Link(secret, base, run, now().Add(ttl)) }
	}
	hopts := &notify.Options{Now: o.Now, HTTPClient: o.HTTPClient}
	if ep := o.Getenv(ChatReplyEndpoint); ep != "" {
		hopts.Endpoints = map[string]string{"slack": ep, "dingtalk": ep, "wecom": ep}
	}
	n.handles = func(platform, handle string) (sender, error) {
		return notify.ReplyHandle(platform, handle, hopts)
	}
	// Feishu and WeCom app results go back through the platform's API with
	// the app's credentials, from whichever function ends the job.
	var fs feishu.Settings
	var ws wecom.Settings
	if err := config.ProcessFrom(o.Getenv, &fs); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := config.ProcessFrom(o.Getenv, &ws); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.Enabled() {
		n.feishu = feishu.New(fs, o.HTTPClient, o.Now)
	}
	if ws.Enabled() {
		n.wecomApp = wecom.New(ws, o.HTTPClient, o.Now)
	}
	for platform, env := range ReplyVariables {
		spec := o.Getenv(env)
		if spec == "" {
			continue
		}
		// Replies to who asked go out whatever the team's mode is.
		s, err := notify.ParseList(spec, &notify.Options{Now: o.Now, Stdout: o.Stdout, HTTPClient: o.HTTPClient})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env, err)
		}
		n.replies[platform] = s
	}
	return n, nil
}

// ChatReplyEndpoint moves every chat reply handle (Slack response_url,
// DingTalk sessionWebhook, WeCom robot response_url) onto another base URL,
// keeping its path and query: the emulator's, for local runs and tests.
const ChatReplyEndpoint = "BACKUPFLOW_CHAT_REPLY_ENDPOINT"

// ReplyVariables name, per chat platform, the static channel that carries
// results back to the conversation a command came from (reply URLs handed
// out by the platforms expire before long jobs end).
var ReplyVariables = map[string]string{
	"slack":    "BACKUPFLOW_REPLY_SLACK",
	"wecom":    "BACKUPFLOW_REPLY_WECOM",
	"dingtalk": "BACKUPFLOW_REPLY_DINGTALK",
	"feishu":   "BACKUPFLOW_REPLY_FEISHU",
	"hook":     "BACKUPFLOW_REPLY_HOOK",
}

// NewLogger returns the JSON (or text) logger on w, its times in UTC.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: utcTime}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// utcTime writes each record's time in UTC. A local time's offset is found
// by reading and parsing the zone file (/etc/localtime where TZ is unset)
// on the process's first log line: 5 % of the Lambda poll-status function's
// first invocation in the footprint benchmark, for an offset nobody needs
// (the log services stamp their own time, and the ledger is in UTC).
func utcTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime {
		a.Value = slog.TimeValue(a.Value.Time().UTC())
	}
	return a
}
