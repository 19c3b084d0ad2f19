package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/chatemu"
	"github.com/backupflow/backupflow/internal/emulator/cmqemu"
	"github.com/backupflow/backupflow/internal/emulator/cosemu"
	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/feishuemu"
	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/internal/emulator/huaweiemu"
	"github.com/backupflow/backupflow/internal/emulator/sqsemu"
	"github.com/backupflow/backupflow/internal/emulator/tencentemu"
	"github.com/backupflow/backupflow/internal/emulator/wecomemu"
)

// Default credentials of a local emulator. They are not secrets: they only
// open the emulator, and the README states them.
const (
	DefaultSecretID  = "AKIDbackupflowLOCAL0000000000000000"
	DefaultSecretKey = "backupflow-local-secret-key-0000"
)

// DefaultQueues are created at start, as serverless.yml declares them.
var DefaultQueues = []string{"backupflow-work", "backupflow-poll", "backupflow-dead"}

// Options configure the emulator. The zero value serves the default fleet
// with the default credentials, jobs that finish after 3 s, and no faults.
type Options struct {
	SecretID, SecretKey string
	Fleet               *fixture.Set
	Now                 func() time.Time
	JobDuration         time.Duration
	FaultRate           float64 // share of requests broken (0..1)
	Seed                uint64
	Faults              *fault.Injector // overrides FaultRate/Seed when set
	// QuietQueues spares the queues the faults (CMQ receive and delete,
	// TDMQ's SendCmqMsg, SQS): a run that measures the database APIs'
	// faults alone, as the simulator's in-memory queue does.
	QuietQueues       bool
	DisableRateLimits bool
	Queues            []string
	RedeliverRate     float64 // CMQ: share of messages delivered once more
	// CMQMaxUnacked is the queues' max unacknowledged time, after which CMQ
	// drops a message, handled or not (default 12 h): how a message is lost.
	CMQMaxUnacked time.Duration
	COSDir        string // buckets as folders; empty keeps objects in memory
	Logger        *slog.Logger
}

// Emulator is the composed server. The parts are exposed for inspection.
type Emulator struct {
	Tencent *tencentemu.Server
	Huawei  *huaweiemu.Server
	CMQ     *cmqemu.Broker
	SQS     *sqsemu.Server
	COS     *cosemu.Server
	Feishu  *feishuemu.Server
	// Chat receives what is posted to chat reply handles (Slack
	// response_url, DingTalk sessionWebhook, WeCom robot response_url).
	Chat *chatemu.Server
	// WeCom serves a self-built app's gettoken and message/send.
	WeCom  *wecomemu.Server
	Faults *fault.Injector
	Fleet  *fixture.Set
	opts   Options
}

// New builds the emulator.
func New(o Options) (*Emulator, error) {
	if o.SecretID == "" {
		o.SecretID = DefaultSecretID
	}
	if o.SecretKey == "" {
		o.SecretKey = DefaultSecretKey
	}
	if o.Fleet == nil {
		o.Fleet = fixture.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(o.Queues) == 0 {
		o.Queues = DefaultQueues
	}
	faults := o.Faults
	if faults == nil && o.FaultRate > 0 {
		faults = fault.New(o.FaultRate, o.Seed)
	}
	e := &Emulator{Faults: faults, Fleet: o.Fleet, opts: o, Feishu: feishuemu.New(nil, o.Now), Chat: chatemu.New(),
		WeCom: wecomemu.New(o.Now)}
	queueFaults := faults
	if o.QuietQueues {
		queueFaults = nil
	}
	e.CMQ = cmqemu.New(cmqemu.Options{SecretID: o.SecretID, SecretKey: o.SecretKey, Now: o.Now,
		Faults: queueFaults, RedeliverRate: o.RedeliverRate, Seed: o.Seed, MaxUnacked: o.CMQMaxUnacked})
	for _, q := range o.Queues {
		if err := e.CMQ.CreateQueue(q); err != nil {
			return nil, fmt.Errorf("emulator: create queue %s: %w", q, err)
		}
	}
	e.COS = cosemu.New(cosemu.Options{SecretID: o.SecretID, SecretKey: o.SecretKey, Dir: o.COSDir, Now: o.Now,
		Buckets: o.Fleet.Buckets})
	e.Tencent = tencentemu.New(tencentemu.Options{SecretID: o.SecretID, SecretKey: o.SecretKey, Fleet: o.Fleet,
		Now: o.Now, JobDuration: o.JobDuration, Faults: faults, QuietQueues: o.QuietQueues, DisableRateLimits: o.DisableRateLimits,
		CMQ: e.CMQ, SourceChecker: e.COS.CheckURL, Logger: o.Logger})
	e.Huawei = huaweiemu.New(huaweiemu.Options{AK: o.SecretID, SK: o.SecretKey, Fleet: o.Fleet, Now: o.Now,
		JobDuration: o.JobDuration, Faults: faults, DisableRateLimits: o.DisableRateLimits, Logger: o.Logger})
	// SQS takes the same key pair as the Tencent APIs (Env hands it out as
	// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and the same faults.
	e.SQS = sqsemu.New(sqsemu.Options{Now: o.Now, AccessKeyID: o.SecretID, SecretAccessKey: o.SecretKey, Faults: queueFaults})
	for _, q := range o.Queues {
		if err := e.SQS.CreateQueue(q); err != nil {
			return nil, fmt.Errorf("emulator: create sqs queue %s: %w", q, err)
		}
	}
	return e, nil
}

// ServeHTTP routes a request to the emulated cloud it is addressed to.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch e.route(r) {
	case "cos":
		e.COS.ServeHTTP(w, r)
	case "tencent":
		e.Tencent.ServeHTTP(w, r)
	case "huawei":
		e.Huawei.ServeHTTP(w, r)
	case "sqs":
		e.SQS.ServeHTTP(w, r)
	case "cmq":
		e.CMQ.ServeHTTP(w, r)
	case "feishu":
		e.Feishu.ServeHTTP(w, r)
	case "chat":
		e.Chat.ServeHTTP(w, r)
	case "wecom":
		e.WeCom.ServeHTTP(w, r)
	case "health":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	default:
		http.Error(w, "backupflow emulator: no emulated API matches this request", http.StatusNotFound)
	}
}

// route picks the emulated API from what each protocol always carries.
func (e *Emulator) route(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch {
	case strings.HasSuffix(host, ".myqcloud.com") || strings.Contains(host, ".cos."):
		return "cos"
	case r.Header.Get("X-TC-Action") != "" || strings.HasPrefix(r.Header.Get("Authorization"), "TC3-HMAC-SHA256"):
		return "tencent"
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS"):
		return "sqs"
	case strings.HasPrefix(r.URL.Path, "/v3/"):
		return "huawei"
	case strings.HasPrefix(r.URL.Path, "/open-apis/"):
		return "feishu"
	case chatemu.Match(r):
		return "chat"
	case wecomemu.Match(r):
		return "wecom"
	case r.URL.Path == "/v2/index.php":
		return "cmq"
	case r.URL.Path == "/healthz":
		return "health"
	}
	// Form-encoded calls: API 3.0 with the legacy signature carries Version;
	// the CMQ data plane carries Action without it.
	params := r.URL.Query()
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			if form, err := url.ParseQuery(string(body)); err == nil {
				for k, v := range form {
					params[k] = v
				}
			}
		}
	}
	switch {
	case params.Get("Action") != "" && params.Get("Version") != "":
		return "tencent"
	case params.Get("Action") != "":
		return "cmq"
	}
	return ""
}

// Jobs lists every backup and import the emulated clouds hold.
func (e *Emulator) Jobs() []fixture.Job {
	jobs := append(e.Tencent.Jobs(), e.Huawei.Jobs()...)
	slices.SortFunc(jobs, func(a, b fixture.Job) int { return a.Created.Compare(b.Created) })
	return jobs
}

// Server is a running emulator listener.
type Server struct {
	URL  string // http://host:port
	Addr string // host:port
	srv  *http.Server
	done chan error
	emu  *Emulator
	// cancel ends the context of every request in flight, so any handler
	// waiting on it (SQS long-polls, slow faults) lets Shutdown finish.
	cancel context.CancelFunc
}

// Listen serves the emulator on addr ("127.0.0.1:0" picks a free port).
func (e *Emulator) Listen(addr string) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen %s: %w", addr, err)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{Addr: lis.Addr().String(), URL: "http://" + lis.Addr().String(), done: make(chan error, 1),
		emu: e, cancel: cancel,
		srv: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second,
			BaseContext: func(net.Listener) context.Context { return base }}}
	go func() {
		err := s.srv.Serve(lis)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Close stops the listener, letting in-flight requests finish; long-polls
// end at once with an empty answer, as a queue does when it goes away.
func (s *Server) Close(ctx context.Context) error {
	s.emu.CMQ.Shutdown()
	s.cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		// Every handler has been told to end. What Shutdown still counts
		// as active past the budget is a connection that never sent a
		// request: net/http treats a new connection as active for 5 s,
		// which on a loaded machine outlasts a 5 s budget (it made
		// TestDroppedBackupIsImported/cmq flaky). Close those.
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		_ = s.srv.Close()
	}
	return <-s.done
}
