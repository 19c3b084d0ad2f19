package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncBytes(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"fits", "abc", 3, "abc"},
		{"ascii cut", "abcdef", 5, "ab…"},
		{"never splits a 3-byte character", "x备份", 6, "x…"}, // "x备" + "…" would be 7
		{"exact room for one character", "x备份了", 7, "x备…"},  // 1+3+3
		{"4-byte emoji", "😀😀", 7, "😀…"},                     // 4+3
		{"too small for the ellipsis", "abcdef", 2, "ab"},
		{"zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncBytes(tt.s, tt.max)
			if got != tt.want || len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("truncBytes(%q, %d) = %q (%d bytes); want %q", tt.s, tt.max, got, len(got), tt.want)
			}
		})
	}
}

func TestTruncChars(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"fits", "备份完成", 4, "备份完成"},
		{"cut", "备份完成了", 4, "备份完…"},
		{"emoji counts two units", "😀😀😀", 4, "😀…"},
		{"emoji at the limit", "😀😀", 4, "😀😀"},
	}
	for _, tt := range tests {
		if got := truncChars(tt.s, tt.max); got != tt.want {
			t.Errorf("%s: truncChars(%q, %d) = %q; want %q", tt.name, tt.s, tt.max, got, tt.want)
		}
	}
}

func TestSlackEscTrunc(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"a<b>&c", 100, "a&lt;b&gt;&amp;c"},
		{"a&b", 5, "a…"},      // "a&amp;" is 6 units: the entity is not split
		{"a&b", 7, "a&amp;b"}, // exactly fits
		{"<@U1>", 100, "&lt;@U1&gt;"},
	}
	for _, tt := range tests {
		if got := slackEscTrunc(tt.s, tt.max); got != tt.want {
			t.Errorf("slackEscTrunc(%q, %d) = %q; want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestMessage_CleanRepairsUTF8(t *testing.T) {
	m := Message{Title: "bad \xff byte", Mention: "U1> <!channel", Fields: []Field{{"n\xfe", "v"}}}.clean()
	if !utf8.ValidString(m.Title) || !utf8.ValidString(m.Fields[0].Name) {
		t.Errorf("clean left invalid UTF-8: %q %q", m.Title, m.Fields[0].Name)
	}
	if m.Mention != "" {
		t.Errorf("mention %q with markup should be dropped", m.Mention)
	}
	for _, ok := range []string{"U0123ABC", "zhangsan", "ou_7d8a6e6df7621556ce0d21922b676706", "a.b@corp.com"} {
		if !validMention(ok) {
			t.Errorf("validMention(%q) = false", ok)
		}
	}
	for _, bad := range []string{"all", "@all", "a b", "<at>", strings.Repeat("a", 65)} {
		if validMention(bad) {
			t.Errorf("validMention(%q) = true", bad)
		}
	}
}
