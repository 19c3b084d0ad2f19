package notify

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const ellipsis = "…"

// truncBytes cuts s to at most max bytes of UTF-8 without splitting a
// character, ending with an ellipsis when anything was cut. WeCom and the
// Feishu body limit count bytes.
func truncBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	suffix := ellipsis
	if max < len(suffix) {
		suffix = ""
	}
	cut := max - len(suffix)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// units is s's length in UTF-16 code units. Slack counts "characters"
// without saying which; code units are never fewer than code points, so a
// string within a limit by this measure is within it by either.
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// truncChars cuts s to at most max UTF-16 units, ending with an ellipsis when
// anything was cut.
func truncChars(s string, max int) string {
	return truncPieces(s, max, func(r rune) string { return string(r) })
}

// slackEscTrunc escapes the three characters Slack's mrkdwn treats as
// control (&, <, >), so user text can form neither links nor mentions, and cuts the result to max UTF-16 units
// without splitting an entity such as &amp;.
func slackEscTrunc(s string, max int) string {
	return truncPieces(s, max, func(r rune) string {
		switch r {
		case '&':
			return "&amp;"
		case '<':
			return "&lt;"
		case '>':
			return "&gt;"
		}
		return string(r)
	})
}

// truncPieces maps every rune of s to a piece and keeps whole pieces while
// they fit in max UTF-16 units, leaving room for the ellipsis when cut.
func truncPieces(s string, max int, piece func(rune) string) string {
	var b strings.Builder
	total := 0
	for _, r := range s {
		total += units(piece(r))
	}
	if total <= max {
		for _, r := range s {
			b.WriteString(piece(r))
		}
		return b.String()
	}
	budget := max - 1 // the ellipsis is one unit
	if budget < 0 {
		return ""
	}
	used := 0
	for _, r := range s {
		p := piece(r)
		if used+units(p) > budget {
			break
		}
		b.WriteString(p)
		used += units(p)
	}
	b.WriteString(ellipsis)
	return b.String()
}

// oneLine shortens outside text (a platform's error message) for an error
// string: control characters become spaces and the length is capped.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return truncBytes(strings.TrimSpace(s), max)
}
