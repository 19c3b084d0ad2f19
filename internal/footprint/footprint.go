package footprint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/invoke/scfinvoke/scfinvoketest"
)

// Platforms.
const (
	SCF = "scf" // Tencent SCF Go1 runtime (web function for chatops)
	AWS = "aws" // AWS Lambda provided.al2023
)

// Function is one binary to measure and the event a typical invocation
// without cloud work gets, per platform (relative to the module root, or
// inline JSON when it starts with "{").
type Function struct {
	Name   string
	Pkg    string // ./functions/x or ./cmd/hello
	Web    bool   // on SCF, served as a web function on :9000 instead of Go1 net/rpc
	Events map[string]string
}

// Hello is the baseline: the minimal function on the same runtime code.
var Hello = Function{Name: "hello", Pkg: "./cmd/hello", Events: map[string]string{SCF: "{}", AWS: "{}"}}

// Functions are the function table's entries (app.Functions), each with
// an event that reaches the handler but makes no cloud call: an empty
// drain, a nightly run with no targets, a malformed record, or an event
// the handler rejects after wiring itself ("{}", for an entry events does
// not name).
var Functions = fromTable()

// events are the typical invocations per function and platform.
var events = map[string]map[string]string{
	app.CreateBackup: {SCF: "events/create-backup/scf-timer.json", AWS: "events/create-backup/aws-schedule.json"},
	app.PollStatus:   {SCF: "events/poll-status/scf-timer-drain.json", AWS: "events/poll-status/aws-sqs-malformed-record.json"},
}

func fromTable() []Function {
	var out []Function
	for _, f := range app.Functions {
		ev := events[f.Name]
		if ev == nil {
			ev = map[string]string{SCF: "{}", AWS: "{}"}
		}
		out = append(out, Function{Name: f.Name, Pkg: "./functions/" + f.Name, Web: f.Web, Events: ev})
	}
	return out
}

// Options configure Run.
type Options struct {
	Root      string // module root; default "."
	Runs      int    // cold starts per binary; default 10
	Functions []Function
	Log       io.Writer // progress; nil discards
}

// Result is one binary on one platform.
type Result struct {
	Function string        `json:"function"`
	Platform string        `json:"platform"`
	Arch     string        `json:"arch"` // of the size figure (the deployed arch)
	Size     int64         `json:"sizeBytes"`
	Cold     time.Duration `json:"coldStartNs"`
	Warm     time.Duration `json:"warmInvokeNs"`
	PeakRSS  int64         `json:"peakRssBytes"`
	Answer   string        `json:"answer"` // "ok" or the handler's error, first run
	Err      string        `json:"error,omitempty"`
}

// buildFlags are the Makefile's reproducible, stripped build flags.
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

var platformTags = map[string]string{SCF: "scf", AWS: "lambda.norpc"}
var deployedArch = map[string]string{SCF: "amd64", AWS: "arm64"}

func build(ctx context.Context, root, pkg, tags, arch, out string) error {
	return buildWith(ctx, root, pkg, tags, arch, out, buildFlags)
}

func buildWith(ctx context.Context, root, pkg, tags, arch, out string, flags []string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-tags", tags, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (%s, %s): %v\n%s", pkg, tags, arch, err, b)
	}
	return nil
}

// Run builds and measures every function and hello on both platforms.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Root == "" {
		o.Root = "."
	}
	if o.Runs <= 0 {
		o.Runs = 10
	}
	if o.Functions == nil {
		o.Functions = append([]Function{Hello}, Functions...)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir, err := os.MkdirTemp("", "backupflow-footprint-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out []Result
	for _, plat := range []string{SCF, AWS} {
		type target struct {
			f       Function
			r       *Result
			host    string
			payload []byte
			colds   []time.Duration
			warms   []time.Duration
			rss     []int64
		}
		var ts []*target
		for _, f := range o.Functions {
			r := &Result{Function: f.Name, Platform: plat, Arch: deployedArch[plat]}
			dep := filepath.Join(dir, plat, deployedArch[plat], f.Name)
			if err := build(ctx, o.Root, f.Pkg, platformTags[plat], deployedArch[plat], dep); err != nil {
				return nil, err
			}
			st, err := os.Stat(dep)
			if err != nil {
				return nil, err
			}
			r.Size = st.Size()
			host := dep
			if runtime.GOARCH != deployedArch[plat] {
				host = filepath.Join(dir, plat, runtime.GOARCH, f.Name)
				if err := build(ctx, o.Root, f.Pkg, platformTags[plat], runtime.GOARCH, host); err != nil {
					return nil, err
				}
			}
			payload, err := loadEvent(o.Root, f.Events[plat])
			if err != nil {
				return nil, err
			}
			ts = append(ts, &target{f: f, r: r, host: host, payload: payload})
		}
		// Runs go round the binaries (hello, then each function, then
		// again) rather than ten of one after ten of the next, so every
		// binary's median sees the same load on a shared machine and the
		// ×hello ratios compare like with like.
		fmt.Fprintf(o.Log, "footprint: %s: %d rounds over %d binaries\n", plat, o.Runs, len(ts))
		for i := range o.Runs {
			for _, t := range ts {
				if t.r.Err != "" {
					continue
				}
				var m sample
				var err error
				switch {
				case plat == AWS:
					m, err = runLambda(ctx, t.host, t.payload)
				case t.f.Web:
					m, err = runWeb(ctx, t.host, t.payload)
				default:
					m, err = runSCF(ctx, t.host, t.payload)
				}
				if err != nil {
					t.r.Err = err.Error()
					continue
				}
				if i == 0 {
					t.r.Answer = m.answer
				}
				t.colds, t.warms, t.rss = append(t.colds, m.cold), append(t.warms, m.warm), append(t.rss, m.rss)
			}
		}
		for _, t := range ts {
			t.r.Cold, t.r.Warm, t.r.PeakRSS = median(t.colds), median(t.warms), medianInt(t.rss)
			out = append(out, *t.r)
		}
	}
	return out, nil
}

func loadEvent(root, ev string) ([]byte, error) {
	if ev == "" || strings.HasPrefix(ev, "{") {
		if ev == "" {
			ev = "{}"
		}
		return []byte(ev), nil
	}
	return os.ReadFile(filepath.Join(root, ev))
}

// env is what every measured process gets: in-memory queues and ledger,
// credentials the wiring accepts, endpoints nothing will call, and no
// discovery, so a typical invocation makes no cloud call.
func env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"TENCENTCLOUD_SECRET_ID=AKIDfootprint0000000000000000000000", "TENCENTCLOUD_SECRET_KEY=footprint-key-00000000000000000",
		"HUAWEICLOUD_SDK_AK=footprint", "HUAWEICLOUD_SDK_SK=footprint", "HUAWEICLOUD_SDK_PROJECT_ID=0483b6b16e954cb88930a360d2c4e663",
		"BACKUPFLOW_TENCENT_ENDPOINT=127.0.0.1:9", "BACKUPFLOW_HUAWEI_ENDPOINT=http://127.0.0.1:9",
		"BACKUPFLOW_COS_ENDPOINT=127.0.0.1:9", "BACKUPFLOW_DISCOVER_TAG=none", "BACKUPFLOW_LOG_LEVEL=error",
		"BACKUPFLOW_NOTIFY=print:", "AWS_REGION=us-east-1", "AWS_LAMBDA_FUNCTION_NAME=footprint",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=64", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
	}
}

type sample struct {
	cold, warm time.Duration
	rss        int64
	answer     string
}

func startProc(ctx context.Context, bin string, extra ...string) (*exec.Cmd, time.Time, error) {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(env(), extra...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, t0, err
	}
	return cmd, t0, nil
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const startTimeout = 10 * time.Second

// runSCF speaks the SCF Go1 protocol as the platform does: dial
// $_LAMBDA_SERVER_PORT until it answers, Function.Ping, Function.Invoke.
func runSCF(ctx context.Context, bin string, payload []byte) (sample, error) {
	port, err := freePort()
	if err != nil {
		return sample{}, err
	}
	cmd, t0, err := startProc(ctx, bin, "_LAMBDA_SERVER_PORT="+strconv.Itoa(port))
	if err != nil {
		return sample{}, err
	}
	defer stop(cmd)
	dctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	c, err := scfinvoketest.Dial(dctx, "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return sample{}, fmt.Errorf("scf: %s: %w", filepath.Base(bin), err)
	}
	defer c.Close()
	env := envMap()
	invoke := func(id string) (string, error) {
		if err := c.Ping(); err != nil {
			return "", err
		}
		req := c.Request(payload, env, 30*time.Second)
		req.RequestId = id
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			return "", err
		}
		if resp.Error != nil {
			return "error: " + resp.Error.Message, nil
		}
		return "ok", nil
	}
	ans, err := invoke("cold")
	if err != nil {
		return sample{}, err
	}
	s := sample{cold: time.Since(t0), answer: ans}
	t1 := time.Now()
	if _, err := invoke("warm"); err != nil {
		return sample{}, err
	}
	s.warm = time.Since(t1)
	s.rss, err = peakRSS(cmd.Process.Pid)
	return s, err
}

func envMap() map[string]string {
	m := map[string]string{}
	for _, kv := range env() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// runWeb measures an SCF web function: HTTP on 127.0.0.1:9000.
func runWeb(ctx context.Context, bin string, payload []byte) (sample, error) {
	cmd, t0, err := startProc(ctx, bin)
	if err != nil {
		return sample{}, err
	}
	defer stop(cmd)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	post := func() (string, error) {
		resp, err := client.Post("http://127.0.0.1:9000/", "application/json", strings.NewReader(string(payload)))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return "HTTP " + strconv.Itoa(resp.StatusCode), nil
	}
	var ans string
	for {
		if ans, err = post(); err == nil {
			break
		}
		if time.Since(t0) > startTimeout {
			return sample{}, fmt.Errorf("web: %s did not answer on :9000 within %s: %v", filepath.Base(bin), startTimeout, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	s := sample{cold: time.Since(t0), answer: ans}
	t1 := time.Now()
	if _, err := post(); err != nil {
		return sample{}, err
	}
	s.warm = time.Since(t1)
	s.rss, err = peakRSS(cmd.Process.Pid)
	return s, err
}

// fakeRuntime is the Lambda Runtime API a provided.al2023 bootstrap polls:
// it hands out one event per Next and reports when the answer is posted.
type fakeRuntime struct {
	events chan []byte
	done   chan string
	mu     sync.Mutex
	seq    int
}

func (f *fakeRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const base = "/2018-06-01/runtime/"
	p := strings.TrimPrefix(r.URL.Path, base)
	switch {
	case r.Method == http.MethodGet && p == "invocation/next":
		var ev []byte
		select {
		case ev = <-f.events:
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		f.seq++
		id := "req-" + strconv.Itoa(f.seq)
		f.mu.Unlock()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:footprint")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
		_, _ = w.Write(ev)
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/response"):
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		f.done <- "ok"
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/error"):
		b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		w.WriteHeader(http.StatusAccepted)
		f.done <- "error: " + string(b)
	case r.Method == http.MethodPost && p == "init/error":
		b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		w.WriteHeader(http.StatusAccepted)
		f.done <- "init error: " + string(b)
	default:
		http.NotFound(w, r)
	}
}

// runLambda measures a bootstrap against a local fake Runtime API.
func runLambda(ctx context.Context, bin string, payload []byte) (sample, error) {
	rt := &fakeRuntime{events: make(chan []byte, 2), done: make(chan string, 2)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return sample{}, err
	}
	srv := &http.Server{Handler: rt, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	rt.events <- payload
	cmd, t0, err := startProc(ctx, bin, "AWS_LAMBDA_RUNTIME_API="+l.Addr().String())
	if err != nil {
		return sample{}, err
	}
	defer stop(cmd)
	wait := func() (string, error) {
		select {
		case a := <-rt.done:
			return a, nil
		case <-time.After(startTimeout):
			return "", errors.New("lambda: no answer within " + startTimeout.String())
		}
	}
	ans, err := wait()
	if err != nil {
		return sample{}, err
	}
	s := sample{cold: time.Since(t0), answer: ans}
	if strings.HasPrefix(ans, "init error") {
		return s, nil
	}
	t1 := time.Now()
	rt.events <- payload
	if _, err := wait(); err != nil {
		return sample{}, err
	}
	s.warm = time.Since(t1)
	s.rss, err = peakRSS(cmd.Process.Pid)
	return s, err
}

// Print writes one table per platform, each function beside hello.
func Print(w io.Writer, rs []Result) {
	for _, plat := range []string{SCF, AWS} {
		var base Result
		for _, r := range rs {
			if r.Platform == plat && r.Function == Hello.Name {
				base = r
			}
		}
		fmt.Fprintf(w, "\n%s (size for linux/%s as deployed; timings and RSS on this host, medians)\n", plat, deployedArch[plat])
		fmt.Fprintf(w, "%-16s %10s %7s %10s %7s %10s %7s %10s %7s  %s\n", "function", "size", "×hello", "cold", "×hello",
			"warm", "×hello", "peak RSS", "×hello", "answer")
		for _, r := range rs {
			if r.Platform != plat {
				continue
			}
			ans := r.Answer
			if r.Err != "" {
				ans = "FAILED: " + r.Err
			}
			if len(ans) > 60 {
				ans = ans[:60] + "…"
			}
			fmt.Fprintf(w, "%-16s %10s %7s %10s %7s %10s %7s %10s %7s  %s\n", r.Function,
				mb(r.Size), ratio(float64(r.Size), float64(base.Size)),
				r.Cold.Round(10*time.Microsecond), ratio(float64(r.Cold), float64(base.Cold)),
				r.Warm.Round(time.Microsecond), ratio(float64(r.Warm), float64(base.Warm)),
				mb(r.PeakRSS), ratio(float64(r.PeakRSS), float64(base.PeakRSS)), ans)
		}
	}
}
