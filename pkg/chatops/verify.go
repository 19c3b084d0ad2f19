package chatops

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Verification failures. The handler answers all of them with 401 and acts
// on nothing; errors.Is tells them apart for logs and tests.
var (
	ErrUnsigned  = errors.New("chatops: request carries no signature")
	ErrSignature = errors.New("chatops: signature does not match")
	ErrStale     = errors.New("chatops: timestamp outside the accepted window")
	ErrDecrypt   = errors.New("chatops: cannot decrypt payload")
	ErrReplay    = errors.New("chatops: signature already used for another request")
)

// Replay windows. Slack and DingTalk document theirs; WeCom, Feishu and the
// generic hook define none, so we take Slack's five minutes and rely on
// message-id deduplication for the rest (facts §9.5).
const (
	SlackWindow    = 5 * time.Minute
	WeComWindow    = 5 * time.Minute
	DingTalkWindow = time.Hour
	FeishuWindow   = 5 * time.Minute
	HookWindow     = 5 * time.Minute
)

// Header names. http.Header.Get canonicalises, so lower-cased headers from
// API gateways and function URLs match too.
const (
	HeaderSlackTimestamp   = "X-Slack-Request-Timestamp"
	HeaderSlackSignature   = "X-Slack-Signature"
	HeaderDingTalkTime     = "Timestamp"
	HeaderDingTalkSign     = "Sign"
	HeaderFeishuTimestamp  = "X-Lark-Request-Timestamp"
	HeaderFeishuNonce      = "X-Lark-Request-Nonce"
	HeaderFeishuSignature  = "X-Lark-Signature"
	HeaderHubSignature     = "X-Hub-Signature-256"
	HeaderHookTimestamp    = "X-Backupflow-Timestamp"
	HeaderHookDelivery     = "X-Backupflow-Delivery"
	maxTimestampDigits     = 16 // ms until the year 318857; longer is garbage
	maxHookDeliveryIDBytes = 128
)

// checkWindow parses a decimal timestamp in unit (time.Second or
// time.Millisecond) and reports ErrStale when it is further than window from
// now in either direction. Empty, signed or non-numeric values are rejected.
func checkWindow(ts string, unit time.Duration, now time.Time, window time.Duration) error {
	if ts == "" {
		return ErrUnsigned
	}
	if len(ts) > maxTimestampDigits {
		return fmt.Errorf("%w: timestamp too long", ErrStale)
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return fmt.Errorf("%w: timestamp is not a number", ErrStale)
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp: %v", ErrStale, err)
	}
	var t time.Time
	if unit == time.Millisecond {
		t = time.UnixMilli(n)
	} else {
		t = time.Unix(n, 0)
	}
	d := now.Sub(t)
	if d > window {
		return fmt.Errorf("%w: %s old", ErrStale, d.Round(time.Second))
	}
	if d < -window {
		return fmt.Errorf("%w: %s in the future", ErrStale, (-d).Round(time.Second))
	}
	return nil
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// equalHex compares a hex-encoded signature with the expected bytes in
// constant time; malformed hex is a mismatch.
func equalHex(got string, want []byte) bool {
	b, err := hex.DecodeString(got)
	return err == nil && hmac.Equal(b, want)
}

// SlackSignature is "v0=" + hex(HMAC-SHA256(secret, "v0:"+ts+":"+body)).
func SlackSignature(secret, ts string, body []byte) string {
	return "v0=" + hex.EncodeToString(slackMAC(secret, ts, body))
}

func slackMAC(secret, ts string, body []byte) []byte {
	msg := make([]byte, 0, len(ts)+4+len(body))
	msg = append(msg, "v0:"...)
	msg = append(msg, ts...)
	msg = append(msg, ':')
	msg = append(msg, body...)
	return hmacSHA256([]byte(secret), msg)
}

// VerifySlack checks a Slack request signature over the raw body and the
// ±5 minute window.
func VerifySlack(h http.Header, body []byte, secret string, now time.Time) error {
	ts, sig := h.Get(HeaderSlackTimestamp), h.Get(HeaderSlackSignature)
	if ts == "" || sig == "" {
		return ErrUnsigned
	}
	if err := checkWindow(ts, time.Second, now, SlackWindow); err != nil {
		return err
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok || !equalHex(hexSig, slackMAC(secret, ts, body)) {
		return ErrSignature
	}
	return nil
}

// HubSignature is the GitHub-style "sha256=" + hex(HMAC-SHA256(secret, payload)).
func HubSignature(secret string, payload []byte) string {
	return "sha256=" + hex.EncodeToString(hmacSHA256([]byte(secret), payload))
}

// VerifyHub checks a GitHub-style X-Hub-Signature-256 value over payload.
func VerifyHub(header string, payload []byte, secret string) error {
	if header == "" {
		return ErrUnsigned
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || !equalHex(hexSig, hmacSHA256([]byte(secret), payload)) {
		return ErrSignature
	}
	return nil
}

// HookPayload is what the generic hook signs: timestamp "." delivery "." body.
// GitHub signs the body alone, which would leave the timestamp and the
// delivery id forgeable; binding them in is what makes the replay window and
// the deduplication mean something.
func HookPayload(ts, delivery string, body []byte) []byte {
	p := make([]byte, 0, len(ts)+len(delivery)+2+len(body))
	p = append(p, ts...)
	p = append(p, '.')
	p = append(p, delivery...)
	p = append(p, '.')
	return append(p, body...)
}

// VerifyHook checks the generic hook: X-Hub-Signature-256 over HookPayload,
// X-Backupflow-Timestamp (Unix seconds) within ±5 minutes, and a present,
// printable X-Backupflow-Delivery id of at most 128 bytes.
func VerifyHook(h http.Header, body []byte, secret string, now time.Time) error {
	sig, ts, id := h.Get(HeaderHubSignature), h.Get(HeaderHookTimestamp), h.Get(HeaderHookDelivery)
	if sig == "" || ts == "" || id == "" {
		return ErrUnsigned
	}
	if len(id) > maxHookDeliveryIDBytes || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fmt.Errorf("%w: bad delivery id", ErrSignature)
	}
	if err := checkWindow(ts, time.Second, now, HookWindow); err != nil {
		return err
	}
	return VerifyHub(sig, HookPayload(ts, id, body), secret)
}

// DingTalkSign is base64(HMAC-SHA256(appSecret, ts+"\n"+appSecret)).
func DingTalkSign(appSecret, ts string) string {
	return base64.StdEncoding.EncodeToString(dingTalkMAC(appSecret, ts))
}

func dingTalkMAC(appSecret, ts string) []byte {
	return hmacSHA256([]byte(appSecret), []byte(ts+"\n"+appSecret))
}

// VerifyDingTalk checks the timestamp (ms, ±1 hour) and sign headers of a
// DingTalk robot callback. The sign does not cover the body: callers must
// also check robotCode, the corp and the sender.
func VerifyDingTalk(h http.Header, appSecret string, now time.Time) error {
	ts, sign := h.Get(HeaderDingTalkTime), h.Get(HeaderDingTalkSign)
	if ts == "" || sign == "" {
		return ErrUnsigned
	}
	if err := checkWindow(ts, time.Millisecond, now, DingTalkWindow); err != nil {
		return err
	}
	got, err := base64.StdEncoding.DecodeString(sign)
	if err != nil || !hmac.Equal(got, dingTalkMAC(appSecret, ts)) {
		return ErrSignature
	}
	return nil
}

// FeishuSignature is hex(SHA-256(ts + nonce + encryptKey + body)): a plain
// hash, not an HMAC.
func FeishuSignature(ts, nonce, encryptKey string, body []byte) string {
	return hex.EncodeToString(feishuHash(ts, nonce, encryptKey, body))
}

func feishuHash(ts, nonce, encryptKey string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(ts + nonce + encryptKey))
	h.Write(body)
	return h.Sum(nil)
}

// VerifyFeishu checks X-Lark-Signature over the raw body in constant time and
// X-Lark-Request-Timestamp within ±5 minutes (Feishu itself checks no window).
func VerifyFeishu(h http.Header, body []byte, encryptKey string, now time.Time) error {
	ts, nonce, sig := h.Get(HeaderFeishuTimestamp), h.Get(HeaderFeishuNonce), h.Get(HeaderFeishuSignature)
	if ts == "" || sig == "" {
		return ErrUnsigned
	}
	if err := checkWindow(ts, time.Second, now, FeishuWindow); err != nil {
		return err
	}
	if !equalHex(sig, feishuHash(ts, nonce, encryptKey, body)) {
		return ErrSignature
	}
	return nil
}

// WeComSignature is hex(SHA1(concat(sort(token, ts, nonce, encrypt)))).
func WeComSignature(token, ts, nonce, encrypt string) string {
	return hex.EncodeToString(weComHash(token, ts, nonce, encrypt))
}

func weComHash(token, ts, nonce, encrypt string) []byte {
	parts := []string{token, ts, nonce, encrypt}
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return sum[:]
}

// VerifyWeCom checks a WeCom msg_signature over the token, the query's
// timestamp and nonce, and the encrypted payload (Encrypt, encrypt or
// echostr), plus our own ±5 minute window on timestamp.
func VerifyWeCom(msgSignature, token, ts, nonce, encrypt string, now time.Time) error {
	if msgSignature == "" || ts == "" || encrypt == "" {
		return ErrUnsigned
	}
	if err := checkWindow(ts, time.Second, now, WeComWindow); err != nil {
		return err
	}
	if !equalHex(msgSignature, weComHash(token, ts, nonce, encrypt)) {
		return ErrSignature
	}
	return nil
}
