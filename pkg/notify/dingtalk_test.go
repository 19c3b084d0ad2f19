package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const (
	dingToken  = "b3f9c0ffee0123456789abcdefTOKEN"
	dingSecret = "SEC7e1d5ab0c0ffee4d2b9ab57e93e0d17d3f1ce7b0aa3a6ad0c6f31d0e8fe4a1"
)

type dingWire struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	At struct {
		AtUserIDs []string `json:"atUserIds"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

// dingtalkRobot answers like DingTalk's custom robot with 加签 set to secret:
// it recomputes sign from the documented formula and answers errcode 310000
// when it does not match. The sign must arrive URL-encoded: a raw '+' would
// decode as a space on DingTalk's side.
func dingtalkRobot(secret string, got *dingWire) func(t *testing.T, r request) (int, string) {
	return func(t *testing.T, r request) (int, string) {
		q, err := url.ParseQuery(r.Query)
		if err != nil || r.Path != "/robot/send" || q.Get("access_token") != dingToken {
			t.Errorf("dingtalk got %s?%s; want /robot/send?access_token=<token>", r.Path, r.Query)
		}
		decodeJSON(t, r.Body, got)
		if got.MsgType != "markdown" || got.Markdown.Title == "" || len(got.Markdown.Text) > dingtalkMax {
			t.Errorf("bad markdown message: %+v", got)
		}
		for _, part := range strings.Split(r.Query, "&") {
			if v, ok := strings.CutPrefix(part, "sign="); ok && strings.ContainsAny(v, "+/=") {
				t.Errorf("sign %q is not URL-encoded", v)
			}
		}
		ts := q.Get("timestamp")
		if ts != strconv.FormatInt(fixedNow.UnixMilli(), 10) {
			t.Errorf("timestamp = %q; want the injected clock in milliseconds", ts)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "\n" + secret))
		if q.Get("sign") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			return http.StatusOK, `{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}`
		}
		return http.StatusOK, `{"errcode":0,"errmsg":"ok"}`
	}
}

func TestDingTalk_SendSigned(t *testing.T) {
	// The encoding check only bites if the signature has a character that
	// needs escaping; keep the fixture honest.
	if sig := dingtalkSign(dingSecret, strconv.FormatInt(fixedNow.UnixMilli(), 10)); !strings.ContainsAny(sig, "+/") {
		t.Fatalf("fixture signature %q has no '+' or '/'; pick another secret", sig)
	}
	specs := []string{
		"dingtalk:" + dingToken + "?secret=" + dingSecret,
		"dingtalk:https://oapi.dingtalk.com/robot/send?access_token=" + dingToken + "&secret=" + dingSecret,
	}
	for _, spec := range specs {
		var got dingWire
		srv := newPlatform(t, dingtalkRobot(dingSecret, &got))
		err := mustParse(t, spec, opts(srv)).Send(context.Background(), Message{
			Level: Failure, Title: "Backup failed", Text: "timeout", JobID: "42", Mention: "user123",
		})
		if err != nil {
			t.Fatalf("Send = %v", err)
		}
		want := "### ❌ Backup failed\n\ntimeout\n\n- **Job**: 42\n\n@user123"
		if got.Markdown.Text != want || got.Markdown.Title != "❌ Backup failed" {
			t.Errorf("markdown = %q / %q; want %q", got.Markdown.Title, got.Markdown.Text, want)
		}
		if len(got.At.AtUserIDs) != 1 || got.At.AtUserIDs[0] != "user123" || got.At.IsAtAll {
			t.Errorf("at = %+v; want atUserIds [user123]", got.At)
		}
	}
}

func TestDingTalk_Unsigned(t *testing.T) {
	srv := newPlatform(t, func(t *testing.T, r request) (int, string) {
		if strings.Contains(r.Query, "sign=") || strings.Contains(r.Query, "timestamp=") {
			t.Errorf("unsigned robot got %q", r.Query)
		}
		return http.StatusOK, `{"errcode":0,"errmsg":"ok"}`
	})
	if err := mustParse(t, "dingtalk:"+dingToken, opts(srv)).Send(context.Background(), Message{Title: "t"}); err != nil {
		t.Fatalf("Send = %v", err)
	}
}

func TestDingTalk_WrongSecret(t *testing.T) {
	var got dingWire
	srv := newPlatform(t, dingtalkRobot(dingSecret, &got))
	other := "SEC0000000000000000000000000000000000000000000000000000000000000000"
	err := mustParse(t, "dingtalk:"+dingToken+"?secret="+other, opts(srv)).Send(context.Background(), Message{Title: "t"})
	var e *Error
	if !errors.As(err, &e) || e.Code != "310000" || e.Retryable() {
		t.Fatalf("Send = %v; want a permanent *Error with errcode 310000", err)
	}
	for _, s := range []string{dingToken, other} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks a credential", err)
		}
	}
}

func TestDingTalk_TruncatesBytes(t *testing.T) {
	var got dingWire
	srv := newPlatform(t, dingtalkRobot(dingSecret, &got))
	m := Message{Level: Info, Title: strings.Repeat("标题", 100), Text: strings.Repeat("é", 5000), Mention: "u1"}
	if err := mustParse(t, "dingtalk:"+dingToken+"?secret="+dingSecret, opts(srv)).Send(context.Background(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if len(got.Markdown.Title) > dingtalkTitleMax || !strings.HasSuffix(got.Markdown.Title, ellipsis) {
		t.Errorf("title is %d bytes: %q", len(got.Markdown.Title), got.Markdown.Title)
	}
	if !strings.HasSuffix(got.Markdown.Text, ellipsis+"\n\n@u1") {
		t.Errorf("text should end with an ellipsis and the mention")
	}
}
