// Package secret holds credentials in a type that refuses to print itself, so
// a secret cannot reach a log line, an error or a notification by accident.
package secret

import "log/slog"

// String is a secret value. Its String, GoString, MarshalText and LogValue all
// redact; Reveal is the one way to the value, used only where it is sent.
type String string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s String) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s String) IsSet() bool { return s != "" }

func (s String) String() string                { return s.mask() }
func (s String) GoString() string              { return s.mask() }
func (s String) LogValue() slog.Value          { return slog.StringValue(s.mask()) }
func (s String) MarshalText() ([]byte, error)  { return []byte(s.mask()), nil }
func (s *String) UnmarshalText(b []byte) error { *s = String(b); return nil }
func (s *String) Decode(value string) error    { *s = String(value); return nil } // envconfig.Decoder

func (s String) mask() string {
	if s == "" {
		return ""
	}
	return redacted
}
