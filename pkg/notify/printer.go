package notify

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// printer writes messages to a writer instead of posting them: the local
// stack's chat. It is safe for concurrent use; each message is one write.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	label string // marks each message: plainLabel or the style's platform
	kind  string // print or stdout, for String
	body  func(Message) string
}

// NewPrinter returns a Sender that writes each message to w as plain text:
// a "[notify] <title> (job <id>)" line followed by the text and fields,
// indented. A styled printer (print:slack) marks its lines with the
// platform's name instead: "[slack] …".
func NewPrinter(w io.Writer) Sender {
	return &printer{w: w, label: plainLabel, body: plainBody}
}

// plainLabel marks what a plain print: channel writes: a notification that
// would have been posted.
const plainLabel = "notify"

// printStyles render the body the way each platform would receive it, so a
// local run shows the markup (and the truncation) a real post would carry.
var printStyles = map[string]func(Message) string{
	"slack": func(m Message) string {
		parts := []string{slackSectionText(m)}
		for _, f := range slackFields(m.Fields) {
			parts = append(parts, f.Text)
		}
		return strings.TrimSpace(strings.Join(parts, "\n"))
	},
	"wecom":    withoutHeading(wecomStyle, wecomMax),
	"dingtalk": withoutHeading(dingtalkStyle, dingtalkMax),
	"feishu":   withoutHeading(feishuStyle, feishuBodyMax),
	"lark":     withoutHeading(feishuStyle, feishuBodyMax),
	// The generic webhook's replies: plain text, marked as its own.
	"hook": plainBody,
}

func withoutHeading(s mdStyle, max int) func(Message) string {
	s.heading = nil
	return func(m Message) string { return s.render(m, max) }
}

func parsePrinter(kind, rest string, o *Options) (Sender, error) {
	style := strings.ToLower(strings.TrimSpace(rest))
	if style == "" {
		return &printer{w: o.Stdout, label: plainLabel, kind: kind, body: plainBody}, nil
	}
	body, ok := printStyles[style]
	if !ok {
		return nil, fmt.Errorf("notify: %s: unknown style (want slack, wecom, dingtalk, feishu, lark or hook)", kind)
	}
	return &printer{w: o.Stdout, label: style, body: body}, nil
}

func (p *printer) String() string {
	if p.label == plainLabel {
		if p.kind == "" {
			return "print:"
		}
		return p.kind + ":"
	}
	return "print:" + p.label
}

// Send writes the message; a write error is returned as is.
func (p *printer) Send(_ context.Context, m Message) error {
	m = m.clean()
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s%s\n", p.label, m.Level.emoji(), m.title(), jobSuffix(m.JobID))
	if body := p.body(m); body != "" {
		for _, line := range strings.Split(body, "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, b.String()); err != nil {
		return fmt.Errorf("notify: print: %w", err)
	}
	return nil
}

func plainBody(m Message) string {
	var lines []string
	if m.Text != "" {
		lines = append(lines, m.Text)
	}
	for _, f := range m.Fields {
		lines = append(lines, f.Name+": "+f.Value)
	}
	if m.Mention != "" {
		lines = append(lines, "@"+m.Mention)
	}
	return strings.Join(lines, "\n")
}

// PlainText renders m as one plain-text message: the headline (with its
// job), then the text and fields a line each. It is what the chat APIs that
// take plain text receive (Feishu's IM reply, the WeCom app's message API);
// the mention is the caller's to add in the platform's own syntax.
func PlainText(m Message) string {
	m = m.clean()
	m.Mention = ""
	s := m.Level.emoji() + " " + m.title() + jobSuffix(m.JobID)
	if body := plainBody(m); body != "" {
		s += "\n" + body
	}
	return s
}
