package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Sender delivers a message to one channel. Implementations are safe for
// concurrent use and never put a credential in an error.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Options tune how channels are built. A nil *Options means the defaults.
type Options struct {
	// HTTPClient posts the messages; nil means a client on
	// http.DefaultTransport. Its CheckRedirect is replaced: redirects are
	// never followed.
	HTTPClient *http.Client
	// Now is the clock used for signatures and Retry-After dates; nil means
	// time.Now.
	Now func() time.Time
	// Timeout bounds each post on top of the caller's context; 0 means 10 s.
	Timeout time.Duration
	// FailuresOnly makes a Notifier drop every message below Failure.
	FailuresOnly bool
	// Logger receives one warning per failed channel, with the channel
	// redacted; nil discards.
	Logger *slog.Logger
	// Stdout is where print: channels write; nil means os.Stdout.
	Stdout io.Writer
	// Endpoints moves a platform to another base URL, keyed by channel kind
	// ("slack", "wecom", "dingtalk", "feishu", "lark"), e.g.
	// "http://127.0.0.1:8080". The request path and query are kept. Meant
	// for tests and emulators.
	Endpoints map[string]string
}

const defaultTimeout = 10 * time.Second

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	client := *c.HTTPClient
	client.CheckRedirect = noRedirect
	c.HTTPClient = &client
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	return c
}

// Parse builds one channel from a spec (see the package documentation). The
// error never repeats the spec, which holds credentials.
func Parse(spec string, opts *Options) (Sender, error) {
	o := opts.withDefaults()
	return parse(strings.TrimSpace(spec), &o)
}

func parse(spec string, o *Options) (Sender, error) {
	kind, rest, ok := strings.Cut(spec, ":")
	kind = strings.ToLower(kind)
	if !ok {
		return nil, errors.New("notify: spec has no channel kind (want slack:, wecom:, dingtalk:, feishu:, lark:, webhook: or print:)")
	}
	if kind == "https" || kind == "http" {
		// A bare URL: accept it when the host names the platform.
		k, err := kindOfURL(spec)
		if err != nil {
			return nil, err
		}
		kind, rest = k, spec
	}
	switch kind {
	case "slack":
		return parseSlack(rest, o)
	case "wecom":
		return parseWeCom(rest, o)
	case "dingtalk":
		return parseDingTalk(rest, o)
	case "feishu", "lark":
		return parseFeishu(kind, rest, o)
	case "webhook":
		return parseWebhook(rest, o)
	case "print", "stdout":
		return parsePrinter(kind, rest, o)
	}
	return nil, errors.New("notify: unknown channel kind (want slack:, wecom:, dingtalk:, feishu:, lark:, webhook: or print:)")
}

// platformHosts maps the platforms' public hosts to channel kinds.
var platformHosts = map[string]string{
	"hooks.slack.com":     "slack",
	"qyapi.weixin.qq.com": "wecom",
	"oapi.dingtalk.com":   "dingtalk",
	"open.feishu.cn":      "feishu",
	"open.larksuite.com":  "lark",
}

func kindOfURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err == nil {
		if k, ok := platformHosts[strings.ToLower(u.Hostname())]; ok {
			return k, nil
		}
	}
	return "", errors.New("notify: a bare URL needs a channel kind prefix, such as webhook")
}

// newChannel prepares the shared HTTP half of a sender.
func newChannel(kind string, o *Options, secrets ...string) *channel {
	return &channel{
		kind:    kind,
		client:  o.HTTPClient,
		timeout: o.Timeout,
		now:     o.Now,
		log:     o.Logger,
		secrets: newRedactor(secrets...),
	}
}

// parseHTTPURL accepts https URLs, and http only for loopback hosts. The
// url package's own errors quote the input, so they are not passed on.
func parseHTTPURL(kind, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("notify: %s: not a valid http(s) URL", kind)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("notify: %s: plain http is allowed only for loopback hosts", kind)
		}
	default:
		return nil, fmt.Errorf("notify: %s: URL scheme must be https", kind)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rebase moves u onto the Options.Endpoints base for kind, if one is set.
func rebase(kind string, u *url.URL, o *Options) (*url.URL, error) {
	base, ok := o.Endpoints[kind]
	if !ok {
		return u, nil
	}
	b, err := url.Parse(base)
	if err != nil || b.Host == "" || (b.Scheme != "http" && b.Scheme != "https") {
		return nil, fmt.Errorf("notify: %s: endpoint override is not an http(s) base URL", kind)
	}
	r := *u
	r.Scheme, r.Host, r.User = b.Scheme, b.Host, nil
	r.Path = strings.TrimSuffix(b.Path, "/") + u.Path
	r.RawPath = ""
	return &r, nil
}

// options splits "a=1&b=2" into values, decoding %XX but leaving '+' alone:
// url.ParseQuery would turn a '+' in a pasted secret into a space. Duplicates
// and names outside allowed are errors; names are never echoed, since a
// mistyped spec can put a secret where a name belongs.
func options(kind, raw string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	if raw == "" {
		return out, nil
	}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		v, err := url.PathUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("notify: %s: malformed %%-escape in an option value", kind)
		}
		known := false
		for _, a := range allowed {
			known = known || name == a
		}
		if !known {
			return nil, fmt.Errorf("notify: %s: unknown option (allowed: %s)", kind, strings.Join(allowed, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("notify: %s: option %s given twice", kind, name)
		}
		out[name] = v
	}
	return out, nil
}

// validToken checks a key or token taken from a spec: the platforms issue
// them as URL-safe ASCII, so anything else is a paste mistake.
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// ParseList builds a Notifier from comma- or newline-separated specs. Blank
// entries and lines starting with # are skipped; no specs at all gives a
// Notifier that sends nothing. Errors name the entry by position only.
func ParseList(specs string, opts *Options) (*Notifier, error) {
	o := opts.withDefaults()
	var senders []Sender
	var errs []error
	n := 0
	for _, line := range strings.Split(specs, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, spec := range strings.Split(line, ",") {
			spec = strings.TrimSpace(spec)
			if spec == "" {
				continue
			}
			n++
			s, err := parse(spec, &o)
			if err != nil {
				errs = append(errs, fmt.Errorf("channel %d: %w", n, err))
				continue
			}
			senders = append(senders, s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newNotifier(senders, &o), nil
}

// Notifier fans a message out to every channel. It is safe for concurrent use.
type Notifier struct {
	senders      []Sender
	failuresOnly bool
	log          *slog.Logger
}

// New returns a Notifier over the given senders; opts supplies FailuresOnly
// and Logger.
func New(senders []Sender, opts *Options) *Notifier {
	o := opts.withDefaults()
	return newNotifier(senders, &o)
}

func newNotifier(senders []Sender, o *Options) *Notifier {
	return &Notifier{senders: senders, failuresOnly: o.FailuresOnly, log: o.Logger}
}

// Len is the number of channels. A nil Notifier has none.
func (n *Notifier) Len() int {
	if n == nil {
		return 0
	}
	return len(n.senders)
}

// String lists the channels with their credentials redacted.
func (n *Notifier) String() string {
	if n == nil {
		return ""
	}
	parts := make([]string, len(n.senders))
	for i, s := range n.senders {
		parts[i] = describe(s)
	}
	return strings.Join(parts, ",")
}

// Send posts m to every channel at once and waits for all of them, so a slow
// or failing channel delays the result by at most its own timeout and never
// stops the others. With FailuresOnly, messages below Failure are dropped
// and Send returns nil. The error joins every channel's *Error; each failure
// is also logged once with the channel redacted. A nil Notifier sends
// nothing, so a function without notification config needs no special case.
func (n *Notifier) Send(ctx context.Context, m Message) error {
	if n == nil || n.failuresOnly && m.Level < Failure {
		return nil
	}
	errs := make([]error, len(n.senders))
	var wg sync.WaitGroup
	for i, s := range n.senders {
		wg.Go(func() {
			errs[i] = s.Send(ctx, m)
			if errs[i] != nil {
				n.log.WarnContext(ctx, "notification not delivered",
					slog.String("channel", describe(s)), slog.String("job", m.JobID), slog.String("error", errs[i].Error()))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// describe names a sender for logs without asking it anything it might leak.
func describe(s Sender) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
