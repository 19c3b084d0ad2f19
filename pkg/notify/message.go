package notify

import (
	"fmt"
	"strings"
)

// Level says how loud a message is. The zero value is Info.
type Level int

const (
	// Info is news nobody has to act on.
	Info Level = iota
	// Success reports a job that reached its goal.
	Success
	// Failure reports a job that did not; only Failure passes FailuresOnly.
	Failure
)

func (l Level) String() string {
	switch l {
	case Info:
		return "info"
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// label is the word shown to people when a message has no title.
func (l Level) label() string {
	switch l {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Info"
}

// emoji marks the level in titles; every platform renders Unicode emoji.
func (l Level) emoji() string {
	switch l {
	case Success:
		return "✅"
	case Failure:
		return "❌"
	}
	return "ℹ️"
}

// Field is one name/value pair shown beside the text (instance, size, ...).
type Field struct{ Name, Value string }

// Message is one notification. Only Level and Title are expected; every other
// part may be empty. Strings may be any length: each channel truncates to its
// platform's limits.
type Message struct {
	Level  Level
	Title  string
	Text   string
	Fields []Field
	// JobID is the caller's dedupe key; channels show it in the message.
	JobID string
	// Mention is an optional platform user id to @-mention (Slack U…, WeCom
	// or DingTalk userid, Feishu open_id). An id with characters outside
	// [A-Za-z0-9_.@-] is dropped rather than risk markup injection.
	Mention string
}

// clean returns m with invalid UTF-8 repaired, so byte budgets computed here
// still hold after encoding/json (which would swap each bad byte for U+FFFD).
func (m Message) clean() Message {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	c := Message{
		Level:   m.Level,
		Title:   strings.TrimSpace(fix(m.Title)),
		Text:    strings.TrimSpace(fix(m.Text)),
		JobID:   strings.TrimSpace(fix(m.JobID)),
		Mention: strings.TrimSpace(m.Mention),
	}
	if !validMention(c.Mention) {
		c.Mention = ""
	}
	for _, f := range m.Fields {
		f = Field{Name: strings.TrimSpace(fix(f.Name)), Value: strings.TrimSpace(fix(f.Value))}
		if f.Name != "" || f.Value != "" { // Slack rejects an empty field
			c.Fields = append(c.Fields, f)
		}
	}
	return c
}

// title is the headline: the caller's title or, failing that, the level.
func (m Message) title() string {
	if m.Title != "" {
		return m.Title
	}
	return m.Level.label()
}

// validMention accepts the id shapes the platforms use and nothing that could
// close a tag or start a broadcast mention.
func validMention(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_', r == '.', r == '@', r == '-':
		default:
			return false
		}
	}
	return s != "all" && s != "@all"
}
