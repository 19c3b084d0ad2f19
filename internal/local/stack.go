package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/chatapp"
	"github.com/backupflow/backupflow/pkg/config"
	"github.com/backupflow/backupflow/pkg/function"
	"github.com/backupflow/backupflow/pkg/invoke"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke"
)

// Options configure a local stack. The zero value of every field but
// Serverless has a working default.
type Options struct {
	Serverless  string        // path to serverless.yml
	Dir         string        // state folder; default .backupflow (buckets under Dir/cos/<bucket>/)
	Listen      string        // emulator address; default 127.0.0.1:0 (a free port)
	ChatListen  string        // chat function address; default 127.0.0.1:9091, "off" disables
	Queue       string        // "cmq" (default: CMQ on the emulator) or "mem://" (in-memory queues)
	Tick        time.Duration // local period of the drain timers; 0 keeps their deployed cron
	JobDuration time.Duration // how long emulated backups and imports take; default 3s
	Scan        time.Duration // how often bucket folders are scanned; default 500ms
	FireNow     bool          // fire the non-drain timers (the nightly run) once at start
	Env         map[string]string
	Stdout      io.Writer // the view, notifications and function logs
	View        string    // auto (table on a terminal, lines otherwise), table, lines or off
	LogFormat   string    // text (default) or json
	Verbose     bool      // function logs at info instead of warn
	Log         *slog.Logger
}

func (o *Options) defaults() {
	if o.Dir == "" {
		o.Dir = ".backupflow"
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.ChatListen == "" {
		o.ChatListen = "127.0.0.1:9091"
	}
	if o.JobDuration == 0 {
		o.JobDuration = 3 * time.Second
	}
	if o.Scan == 0 {
		o.Scan = 500 * time.Millisecond
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.LogFormat == "" {
		o.LogFormat = "text"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Function is one deployed function, wired from its own environment.
type Function struct {
	Name     string
	Env      map[string]string // serverless.yml environment overlaid with the local overrides
	App      *app.App
	Handler  invoke.Handler // nil for the web (chat) function
	Timeout  time.Duration
	RetryNum int // asynchronous retries after a failed invocation
}

// Stack is a running local system.
type Stack struct {
	Emu       *emulator.Emulator
	Emulator  *emulator.Server
	ChatURL   string // http://host:port of the chat function; empty when off
	Functions map[string]*Function
	Desc      *descriptor.Serverless

	opts     Options
	con      *console
	view     *view
	chat     *http.Server
	control  *http.Server
	ctlLis   net.Listener
	unlock   func()
	watchers []*watcher

	ctx    context.Context // ends when Run's context ends
	cancel context.CancelFunc
	wg     sync.WaitGroup // in-flight invocations
	bg     sync.WaitGroup // timers, watchers, view

	mu      sync.Mutex
	running map[string]bool // trigger → an invocation is in flight
	reports []Report
}

// Report is one finished asynchronous invocation, for the demo and tests.
type Report struct {
	Function, Trigger string
	Result            function.Report
	Err               error
}

// Start builds the emulator and every function and opens the listeners; Run
// starts the triggers.
func Start(ctx context.Context, o Options) (*Stack, error) {
	o.defaults()
	desc, err := descriptor.LoadServerless(o.Serverless)
	if err != nil {
		return nil, fmt.Errorf("%w (run from the repository root, or pass --serverless PATH)", err)
	}
	s := &Stack{Desc: desc, opts: o, Functions: map[string]*Function{}, running: map[string]bool{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.con = newConsole(o.Stdout, o.View)
	cosDir := filepath.Join(o.Dir, "cos")
	if err := os.MkdirAll(cosDir, 0o755); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	// The folder is taken before anything touches it (the ledger is reset
	// below); the control endpoint's address goes into the lock, so it is
	// opened first and served once the stack is ready.
	if s.ctlLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("control endpoint: %w", err)
	}
	token := nonce() + nonce() + nonce() + nonce()
	s.unlock, err = lock(o.Dir, lockInfo{PID: os.Getpid(), Control: "http://" + s.ctlLis.Addr().String(), Token: token,
		Started: time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		_ = s.ctlLis.Close()
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.cancel()
			_ = s.closeListeners()
		}
	}()
	s.Emu, err = emulator.New(emulator.Options{COSDir: cosDir, JobDuration: o.JobDuration, Logger: o.Log})
	if err != nil {
		return nil, err
	}
	for _, b := range s.Emu.Fleet.Buckets {
		if err := os.MkdirAll(filepath.Join(cosDir, b.Name), 0o755); err != nil {
			return nil, fmt.Errorf("bucket folder: %w", err)
		}
	}
	if s.Emulator, err = s.Emu.Listen(o.Listen); err != nil {
		return nil, fmt.Errorf("%w (pick another address with --listen)", err)
	}
	run := nonce()
	for _, name := range desc.FunctionNames() {
		f, err := s.wire(ctx, name, run)
		if err != nil {
			return nil, err
		}
		s.Functions[name] = f
	}
	if err := s.resetLedger(ctx); err != nil {
		return nil, err
	}
	if f := s.Functions[ChatFunction]; f != nil && o.ChatListen != "off" {
		if err := s.serveChat(f); err != nil {
			return nil, err
		}
	}
	for _, t := range desc.Inputs.Triggers {
		if t.Type != "cos" || !t.Parameters.Enabled() {
			continue
		}
		w, err := newWatcher(t, cosDir, s.Emu.Fleet.AppID)
		if err != nil {
			return nil, err
		}
		// What is already there when the stack starts was uploaded before:
		// recorded now, so only later writes become events.
		if _, err := w.scan(); err != nil {
			return nil, fmt.Errorf("bucket folder: %w", err)
		}
		s.watchers = append(s.watchers, w)
	}
	s.view = newView(s.con, s.anyApp())
	s.serveControl(s.ctlLis, token)
	ok = true
	return s, nil
}

// wire builds one function from its serverless.yml environment and the
// local overrides.
func (s *Stack) wire(ctx context.Context, name, run string) (*Function, error) {
	d := s.Desc.Inputs.Functions[name]
	env := s.Desc.Env(name)
	for k, v := range s.overrides(run) {
		env[k] = v
	}
	for k, v := range s.opts.Env {
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := config.LoadFrom(getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	level := slog.LevelWarn
	if s.opts.Verbose {
		level = slog.LevelInfo
	}
	var h slog.Handler = slog.NewTextHandler(s.con, &slog.HandlerOptions{Level: level})
	if s.opts.LogFormat == "json" {
		h = slog.NewJSONHandler(s.con, &slog.HandlerOptions{Level: level})
	}
	a, err := app.Open(ctx, cfg, app.Options{Function: name, Getenv: getenv, Stdout: notices{s}, Logger: slog.New(h)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &Function{Name: name, Env: env, App: a, Timeout: time.Duration(s.Desc.Inputs.Timeout) * time.Second, RetryNum: 2}
	if d.Timeout > 0 {
		f.Timeout = time.Duration(d.Timeout) * time.Second
	}
	if d.RetryNum != nil {
		f.RetryNum = *d.RetryNum
	}
	if d.Type != "web" {
		entry, ok := app.Lookup(name)
		if !ok || entry.Web {
			return nil, fmt.Errorf("serverless.yml names event function %q, which the function table does not have", name)
		}
		if f.Handler, err = entry.Handler(a, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return f, nil
}

// overrides point a function at the emulator. They are the only differences
// from the deployed environment, besides the drain timers' period.
func (s *Stack) overrides(run string) map[string]string {
	env := Overrides(s.Emu, s.Emulator.URL)
	env["TENCENTCLOUD_REGION"] = s.Desc.Inputs.Region
	env["BACKUPFLOW_LOG_FORMAT"] = s.opts.LogFormat
	// Emulated jobs take seconds: check first after that long, then often.
	env["BACKUPFLOW_FIRST_POLL"] = s.opts.JobDuration.String()
	env["BACKUPFLOW_POLL_MIN"] = "1s"
	if strings.HasPrefix(s.opts.Queue, "mem:") {
		// Process-wide in-memory queues, private to this stack.
		for _, q := range []string{"WORK", "POLL", "DEAD"} {
			env["BACKUPFLOW_"+q+"_QUEUE"] = "mem://backupflow-" + strings.ToLower(q) + "-" + run
		}
	}
	return env
}

// Overrides are the variables that point the functions at the emulator
// served at url (http://host:port): its endpoints and credentials
// (emulator.Env), and notifications printed instead of posted.
func Overrides(emu *emulator.Emulator, url string) map[string]string {
	env := emu.Env(url)
	env["BACKUPFLOW_NOTIFY"] = "print:"
	for platform, v := range app.ReplyVariables {
		env[v] = "print:" + platform // [slack] … [hook]: a reply, not a team notification
	}
	return env
}

// resetLedger empties the ledger's folder when it lives in a local bucket:
// the emulator's queues and jobs start empty, so the ledger must too.
func (s *Stack) resetLedger(ctx context.Context) error {
	a := s.anyApp()
	keys, err := a.Ledger.List(ctx, "")
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for _, k := range keys {
		if err := a.Ledger.Delete(ctx, k); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	return nil
}

func (s *Stack) anyApp() *app.App {
	for _, n := range s.Desc.FunctionNames() {
		return s.Functions[n].App
	}
	return nil
}

func (s *Stack) serveChat(f *Function) error {
	h, err := ChatHandler(f.App, nil)
	if err != nil {
		return fmt.Errorf("chatops: %w", err)
	}
	lis, err := net.Listen("tcp", s.opts.ChatListen)
	if err != nil {
		return fmt.Errorf("chatops: %w (pick another address with --chat-listen, or --chat-listen off)", err)
	}
	s.ChatURL = "http://" + lis.Addr().String()
	meta := invoke.Meta{Platform: invoke.PlatformLocal, FunctionName: f.Name}
	mux := http.NewServeMux()
	// The night's report, live from the stack's ledger: the page
	// `backupflow report --html` writes, for a browser on this machine.
	mux.Handle("/report", chatapp.ReportPage(f.App.Service, f.App.Log))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(invoke.WithMeta(r.Context(), meta)))
	}))
	s.chat = &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.MaxBytesHandler(mux, scfinvoke.MaxWebBodyBytes)}
	go func() { _ = s.chat.Serve(lis) }()
	return nil
}

// Run fires the triggers until ctx ends, then lets in-flight invocations
// finish (up to grace) and closes everything.
func (s *Stack) Run(ctx context.Context, grace time.Duration) error {
	s.Begin(ctx)
	<-ctx.Done()
	return s.Close(grace)
}

// Begin starts the timers, folder watchers and the view in the background.
func (s *Stack) Begin(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			s.cancel()
		case <-s.ctx.Done():
		}
	}()
	s.startTimers()
	for _, w := range s.watchers {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.watch(w)
		}()
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.view.run(s.ctx)
	}()
}

// Close stops the triggers, waits up to grace for in-flight invocations and
// closes the listeners.
func (s *Stack) Close(grace time.Duration) error {
	s.cancel()
	s.bg.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(grace):
		err = errors.New("in-flight invocations did not finish in time")
	}
	if s.view != nil {
		s.view.refresh(context.Background())
		s.con.Keep()
	}
	return errors.Join(err, s.closeListeners())
}

func (s *Stack) closeListeners() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if s.chat != nil {
		errs = append(errs, s.chat.Shutdown(ctx))
	}
	if s.Emulator != nil {
		errs = append(errs, s.Emulator.Close(ctx))
	}
	if s.control != nil {
		errs = append(errs, s.control.Shutdown(ctx))
	} else if s.ctlLis != nil {
		_ = s.ctlLis.Close()
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return errors.Join(errs...)
}

// InvokeAsync delivers payload to a function as an asynchronous trigger
// does: on failure it is retried RetryNum times. trigger names the source;
// while one of its invocations runs, a second from the same trigger is
// skipped (a drain already in progress covers it).
func (s *Stack) InvokeAsync(fn, trigger string, payload []byte, skipBusy bool) {
	f := s.Functions[fn]
	if f == nil || f.Handler == nil {
		return
	}
	s.mu.Lock()
	if skipBusy && s.running[trigger] {
		s.mu.Unlock()
		return
	}
	s.running[trigger] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { s.mu.Lock(); delete(s.running, trigger); s.mu.Unlock() }()
		out, err := s.invokeWithRetry(f, trigger, payload)
		r := Report{Function: fn, Trigger: trigger, Err: err}
		if err == nil {
			_ = json.Unmarshal(out, &r.Result)
			s.fired(trigger, r.Result)
		}
		s.mu.Lock()
		s.reports = append(s.reports, r)
		s.mu.Unlock()
	}()
}

func (s *Stack) invokeWithRetry(f *Function, trigger string, payload []byte) ([]byte, error) {
	var err error
	for attempt := 0; attempt <= f.RetryNum; attempt++ {
		if attempt > 0 {
			// SCF waits longer between asynchronous retries; a second keeps
			// local runs brisk.
			select {
			case <-time.After(time.Second):
			case <-s.ctx.Done():
				return nil, err
			}
		}
		var out []byte
		// In-flight work finishes even when the stack is stopping.
		out, err = Invoke(context.WithoutCancel(s.ctx), f.Handler, f.Name, f.Timeout, payload)
		if err == nil {
			return out, nil
		}
		f.App.Log.Error("invocation failed", "trigger", trigger, "attempt", attempt+1, "err", err)
	}
	return nil, err
}

// Reports returns the finished asynchronous invocations so far.
func (s *Stack) Reports() []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Report(nil), s.reports...)
}

// Summary describes the running stack for the start banner.
func (s *Stack) Summary() []string {
	var lines []string
	lines = append(lines, fmt.Sprintf("emulator    %s  (fleet of %d instances; jobs take %s)", s.Emulator.URL,
		len(s.Emu.Fleet.Instances), s.opts.JobDuration))
	for _, w := range s.watchers {
		lines = append(lines, fmt.Sprintf("bucket      %s/  → %s on %s (prefix %q, suffix %q)", w.root, w.function, w.events, w.prefix, w.suffix))
	}
	if s.ChatURL != "" {
		lines = append(lines, fmt.Sprintf("chat        %s  (POST /slack, /wecom, /dingtalk, /feishu, /hook; test secrets)", s.ChatURL))
	}
	var timers []string
	for _, t := range s.Desc.Inputs.Triggers {
		if t.Type != "timer" || !t.Parameters.Enabled() {
			continue
		}
		when := "cron " + t.Parameters.CronExpression + " (UTC)"
		if s.isDrain(t) && s.opts.Tick > 0 {
			when = "every " + s.opts.Tick.String() + " (deployed: " + t.Parameters.CronExpression + ")"
		}
		timers = append(timers, fmt.Sprintf("timer       %-16s %-13s %s", t.Parameters.Name, t.Function, when))
	}
	sort.Strings(timers)
	lines = append(lines, timers...)
	q := s.anyApp().Cfg.WorkQueue
	lines = append(lines, "queues      "+strings.Join([]string{q, s.anyApp().Cfg.PollQueue, s.anyApp().Cfg.DeadQueue}, ", "))
	lines = append(lines, "notices     printed, not posted: [notify] lines are what BACKUPFLOW_NOTIFY would post to the team,",
		"            [slack] [wecom] [dingtalk] [feishu] [hook] lines the replies to chat commands")
	return lines
}

func nonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
