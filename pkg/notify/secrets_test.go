package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// secretSpec is a channel spec and the credentials in it. {base} is replaced
// by a server URL for the generic webhook, whose URL is its own endpoint.
type secretSpec struct {
	name    string
	spec    string
	secrets []string
}

var secretSpecs = []secretSpec{
	{"slack", "slack:https://hooks.slack.com/services/TSECRET1/BSECRET2/XSECRET3xyz", []string{"TSECRET1/BSECRET2/XSECRET3xyz", "XSECRET3xyz"}},
	{"wecom", "wecom:wecomKEYsecret-0001", []string{"wecomKEYsecret-0001"}},
	{"wecom URL", "wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecomKEYsecret-0002", []string{"wecomKEYsecret-0002"}},
	{"dingtalk", "dingtalk:dingTOKENsecret0003?secret=SECdingSIGNINGsecret0004", []string{"dingTOKENsecret0003", "SECdingSIGNINGsecret0004"}},
	{"feishu", "feishu:feishuTOKENsecret0005?secret=feishuSIGNsecret0006", []string{"feishuTOKENsecret0005", "feishuSIGNsecret0006"}},
	{"lark", "lark:larkTOKENsecret0007?secret=larkSIGNsecret0008", []string{"larkTOKENsecret0007", "larkSIGNsecret0008"}},
	{"webhook", "webhook:{base}/hookPATHsecret0009?token=hookQUERYsecret0010&secret=hookSIGNsecret0011", []string{"hookPATHsecret0009", "hookQUERYsecret0010", "hookSIGNsecret0011"}},
	{"webhook user info", "webhook:{scheme}://user:hookPASSsecret0012@{host}/h", []string{"hookPASSsecret0012"}},
}

// allMessages is err's text and the text of every error in its chain.
func allMessages(err error) []string {
	if err == nil {
		return nil
	}
	out := []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, allMessages(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, allMessages(e)...)
		}
	}
	return out
}

func assertNoSecret(t *testing.T, what string, texts []string, secrets []string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s leaks secret %q: %s", what, s, text)
			}
		}
	}
}

func fill(spec, base string) string {
	scheme, host, _ := strings.Cut(base, "://")
	return strings.NewReplacer("{base}", base, "{scheme}", scheme, "{host}", host).Replace(spec)
}

func TestSecrets_NeverInErrorsOrStrings(t *testing.T) {
	// An unreachable endpoint: the transport error is a *url.Error quoting
	// the full request URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	// A platform that echoes everything it got back in its error message.
	echo := newPlatform(t, func(t *testing.T, r request) (int, string) {
		return http.StatusBadRequest, fmt.Sprintf("bad request to %s?%s with %s", r.Path, r.Query, r.Body)
	})
	echoErrcode := newPlatform(t, func(t *testing.T, r request) (int, string) {
		return http.StatusOK, fmt.Sprintf(`{"errcode":93000,"errmsg":"invalid key %s","code":19021,"msg":"bad %s"}`, r.Query, r.Path)
	})
	leakyTransport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("proxy refused %s: %w", r.URL, context.DeadlineExceeded)
	})

	for _, ss := range secretSpecs {
		t.Run(ss.name, func(t *testing.T) {
			logger, logs := logBuffer()
			scenarios := []struct {
				name string
				base string
				ctx  context.Context
				hc   *http.Client
			}{
				{"unreachable", dead.URL, context.Background(), nil},
				{"platform echoes the request", echo.URL, context.Background(), nil},
				{"errcode echoes the request", echoErrcode.URL, context.Background(), nil},
				{"canceled", echo.URL, canceled(), nil},
				{"transport error quotes the URL", echo.URL, context.Background(), &http.Client{Transport: leakyTransport}},
			}
			for _, sc := range scenarios {
				o := &Options{HTTPClient: sc.hc, Now: clock, Logger: logger, Endpoints: map[string]string{
					"slack": sc.base, "wecom": sc.base, "dingtalk": sc.base, "feishu": sc.base, "lark": sc.base,
				}}
				n, err := ParseList(fill(ss.spec, sc.base), o)
				if err != nil {
					t.Fatalf("ParseList: %v", err)
				}
				assertNoSecret(t, "String", []string{n.String(), fmt.Sprint(n.senders[0]), fmt.Sprintf("%#v", n.senders[0])}, ss.secrets)
				err = n.Send(sc.ctx, Message{Level: Failure, Title: "t", Text: "x"})
				if err == nil && strings.HasPrefix(ss.name, "webhook") && sc.name == "errcode echoes the request" {
					continue // a generic webhook has no errcode: any 2xx is success
				}
				if err == nil {
					t.Fatalf("%s: Send = nil; want an error", sc.name)
				}
				assertNoSecret(t, sc.name+" error", allMessages(err), ss.secrets)
				if sc.name == "canceled" && !errors.Is(err, context.Canceled) {
					t.Errorf("canceled: errors.Is(%v, context.Canceled) = false", err)
				}
				if sc.name == "transport error quotes the URL" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("scrubbed error lost its cause: %v", err)
				}
			}
			assertNoSecret(t, "log", []string{logs.String()}, ss.secrets)
			if !strings.Contains(logs.String(), "notification not delivered") {
				t.Errorf("failures were not logged")
			}
		})
	}
}

func TestSecrets_NeverInParseErrors(t *testing.T) {
	const s = "SECRETsecret0123456789"
	specs := []string{
		s,                                   // no kind: the secret is all there is
		s + ":x",                            // secret where the kind goes
		"slack:http://hooks.slack.com/" + s, // plain http
		"slack:https://%zz/" + s,            // unparsable URL
		"wecom:" + s + "/bad",               // malformed key
		"wecom:https://qyapi.weixin.qq.com/x?" + s + "=1",
		"dingtalk:" + s + "?" + s + "=1", // unknown option named like the secret
		"dingtalk:tok?secret=x" + s,      // secret without SEC prefix
		"dingtalk:tok?secret=%zz" + s,    // bad escape
		"feishu:" + s + "?secret=",
		"feishu:https://open.feishu.cn/x/" + s, // not a hook URL
		"webhook:ftp://host/" + s,
		"https://example.com/" + s, // bare URL, unknown host
		"print:" + s,
	}
	for _, spec := range specs {
		_, err := Parse(spec, nil)
		if err == nil {
			t.Errorf("Parse(%q) = nil error; want one", spec)
			continue
		}
		assertNoSecret(t, "Parse error", allMessages(err), []string{s, strings.ToLower(s)})
		_, err = ParseList("print:\n"+spec, nil)
		assertNoSecret(t, "ParseList error", allMessages(err), []string{s, strings.ToLower(s)})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
