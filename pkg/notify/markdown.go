package notify

import "strings"

// mdStyle is how one platform's markdown dialect shows the parts of a
// message. WeCom, DingTalk and Feishu differ only in these few spots.
type mdStyle struct {
	heading func(m Message) string // first line, "" for none (Feishu puts the title in the card header)
	field   func(name, value string) string
	mention func(id string) string
}

// render builds the markdown body within max bytes. The mention is appended
// after truncation so a long text can never cut it off; fields and the job
// line come after the text, so when something must go, it is the tail of the
// text's last part, marked with an ellipsis.
func (s mdStyle) render(m Message, max int) string {
	var parts []string
	if s.heading != nil {
		parts = append(parts, s.heading(m))
	}
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	var lines []string
	hasJob := false
	for _, f := range m.Fields {
		lines = append(lines, s.field(f.Name, f.Value))
		hasJob = hasJob || f.Name == "Job"
	}
	if m.JobID != "" && !hasJob {
		lines = append(lines, s.field("Job", m.JobID))
	}
	if len(lines) > 0 {
		parts = append(parts, strings.Join(lines, "\n"))
	}
	suffix := ""
	if m.Mention != "" {
		suffix = "\n\n" + s.mention(m.Mention)
	}
	return truncBytes(strings.Join(parts, "\n\n"), max-len(suffix)) + suffix
}
