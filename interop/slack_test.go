package interop_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

const slackClient = "slack-go"

const slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackRequest builds a slash command as Slack sends it: a form body signed
// with v0 HMAC-SHA256 over "v0:ts:body". slack-go's SecretsVerifier must
// accept it and SlashCommandParse must read it back, or the case fails
// before the product sees it.
func slackRequest(c *R, text, trigger string, ts time.Time) (http.Header, string) {
	return slackRequestAs(c, "U0INTEROP", text, trigger, ts)
}

// slackSigned signs body as Slack signs every request to an app.
func slackSigned(c *R, contentType, body string, ts time.Time) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(slackSecret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	if time.Since(ts) < time.Minute {
		sv, err := slack.NewSecretsVerifier(h, slackSecret)
		if err == nil {
			_, _ = sv.Write([]byte(body))
			err = sv.Ensure()
		}
		if err != nil {
			c.Errorf("slack-go's verifier refuses the request built: %v", err)
		}
	}
	return h
}

func slackRequestAs(c *R, user, text, trigger string, ts time.Time) (http.Header, string) {
	form := url.Values{
		"token": {"deprecated"}, "team_id": {"T0INTEROP"}, "team_domain": {"interop"},
		"channel_id": {"C0INTEROP"}, "channel_name": {"ops"}, "user_id": {user}, "user_name": {"tester"},
		"command": {"/backupflow"}, "text": {text}, "api_app_id": {"A0INTEROP"},
		"response_url": {"https://hooks.slack.com/commands/T0INTEROP/1/" + trigger}, "trigger_id": {trigger},
	}
	body := form.Encode()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(slackSecret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	if time.Since(ts) < time.Minute {
		sv, err := slack.NewSecretsVerifier(h, slackSecret)
		if err == nil {
			_, _ = sv.Write([]byte(body))
			err = sv.Ensure()
		}
		if err != nil {
			c.Errorf("slack-go's verifier refuses the request built: %v", err)
		}
	}
	r, _ := http.NewRequest(http.MethodPost, "https://example.invalid/slack", strings.NewReader(body))
	r.Header = h.Clone()
	if sc, err := slack.SlashCommandParse(r); err != nil || sc.Text != text || sc.UserID != user {
		c.Errorf("slack-go's parser reads %+v, %v", sc, err)
	}
	return h, body
}

// functionURLEvent wraps an HTTP request as a Lambda function URL (payload
// 2.0) event, with aws-lambda-go's own type.
func functionURLEvent(path string, h http.Header, body string) []byte {
	hdr := map[string]string{}
	for k := range h {
		hdr[strings.ToLower(k)] = h.Get(k)
	}
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: path, Headers: hdr, Body: body,
		RequestContext: events.LambdaFunctionURLRequestContext{DomainName: "abc.lambda-url.us-east-1.on.aws",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: http.MethodPost, Path: path, SourceIP: "203.0.113.9"}}}
	b, _ := json.Marshal(ev)
	return b
}

// take receives and deletes every visible message of a queue.
// jobID is the job a queued message belongs to.
func jobID(m events.SQSMessage) string {
	var env struct {
		Job string `json:"job"`
	}
	_ = json.Unmarshal([]byte(m.Body), &env)
	return env.Job
}

// otherJobs counts the messages that belong to a job other than known. A
// resend may queue its job's message again (Enqueue is idempotent per job
// id, so a first delivery that died before its send is not lost); it may
// never start another job.
func otherJobs(msgs []events.SQSMessage, known string) int {
	n := 0
	for _, m := range msgs {
		if known == "" || jobID(m) != known {
			n++
		}
	}
	return n
}

func take(ctx context.Context, c *sqs.Client, name string) ([]events.SQSMessage, error) {
	u, err := queueURL(ctx, c, name)
	if err != nil {
		return nil, err
	}
	var all []events.SQSMessage
	for {
		msgs, err := received(ctx, c, name, 10)
		if err != nil || len(msgs) == 0 {
			return all, err
		}
		for _, m := range msgs {
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
				return all, err
			}
		}
		all = append(all, msgs...)
	}
}

// slackAnswer invokes the chatops bootstrap and decodes its answer as the
// message Slack would show.
func slackAnswer(ctx context.Context, c *R, r *rie, h http.Header, body string) (int, slack.WebhookMessage) {
	inv, err := r.invoke(ctx, functionURLEvent("/slack", h, body))
	if err != nil || inv.err != nil {
		c.Errorf("invoke: %v %s", err, inv)
		return 0, slack.WebhookMessage{}
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(inv.body, &resp); err != nil {
		c.Errorf("not a function URL response: %v: %s", err, inv.body)
		return 0, slack.WebhookMessage{}
	}
	var msg slack.WebhookMessage
	if resp.StatusCode == http.StatusOK {
		dec := json.NewDecoder(bytes.NewReader([]byte(resp.Body)))
		if err := dec.Decode(&msg); err != nil || msg.Text == "" {
			c.Errorf("answer does not decode as slack.WebhookMessage with text: %v: %q", err, resp.Body)
		}
	}
	return resp.StatusCode, msg
}

// TestSlackThroughChatopsLambda: slash commands built and checked with
// slack-go, through the chatops bootstrap under the RIE, over a function URL.
func TestSlackThroughChatopsLambda(t *testing.T) {
	e := startEmulator(t)
	env := lambdaEnv(e, "slack")
	env["BACKUPFLOW_SLACK_SIGNING_SECRET"] = slackSecret
	env["BACKUPFLOW_CHAT_BACKUP_USERS"] = "slack:U0INTEROP"
	env["BACKUPFLOW_CHAT_IMPORT_USERS"] = "slack:U0INTEROP"
	r := startRIE(t, "chatops", env)
	q := sqsClient(e)
	jobs := func(ctx context.Context, c *R) []events.SQSMessage {
		msgs, err := take(ctx, q, "backupflow-work")
		if err != nil {
			c.Errorf("sqs: %v", err)
		}
		return msgs
	}
	var validH http.Header
	var validBody, firstJob string
	check(t, slackClient, "backup → one job and an answer in the conversation", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		jobs(ctx, c)
		validH, validBody = slackRequest(c, "backup cdb-c1nl9rpv", "trig-backup-1", time.Now())
		status, msg := slackAnswer(ctx, c, r, validH, validBody)
		if status != http.StatusOK || !strings.Contains(msg.Text, "queued") {
			c.Errorf("answer %d %q; want 200 and the queued job", status, msg.Text)
		}
		got := jobs(ctx, c)
		if len(got) != 1 || !strings.Contains(got[0].Body, "cdb-c1nl9rpv") {
			c.Errorf("%d jobs queued; want one for cdb-c1nl9rpv", len(got))
		} else {
			firstJob = jobID(got[0])
		}
	})
	check(t, slackClient, "backup over API Gateway REST (payload 1.0) → one job and an answer", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		h, body := slackRequest(c, "backup cdb-k2m4p6r8", "trig-rest-1", time.Now())
		hdr := map[string]string{}
		for k := range h {
			hdr[k] = h.Get(k)
		}
		ev, _ := json.Marshal(events.APIGatewayProxyRequest{Resource: "/slack", Path: "/slack", HTTPMethod: http.MethodPost,
			Headers: hdr, Body: body, RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod",
				Identity: events.APIGatewayRequestIdentity{SourceIP: "203.0.113.9"}}})
		inv, err := r.invoke(ctx, ev)
		var resp events.APIGatewayProxyResponse
		if err != nil || inv.err != nil || json.Unmarshal(inv.body, &resp) != nil {
			c.Errorf("invoke: %v %s", err, inv)
			return
		}
		var msg slack.WebhookMessage
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &msg) != nil || !strings.Contains(msg.Text, "queued") {
			c.Errorf("answer %d %q; want 200 and the queued job", resp.StatusCode, resp.Body)
		}
		if got := jobs(ctx, c); len(got) != 1 || !strings.Contains(got[0].Body, "cdb-k2m4p6r8") {
			c.Errorf("%d jobs queued; want one for cdb-k2m4p6r8", len(got))
		}
	})
	check(t, slackClient, "resend of the same request → no second job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		if validH == nil {
			c.Errorf("no first request")
			return
		}
		slackAnswer(ctx, c, r, validH, validBody)
		if n := otherJobs(jobs(ctx, c), firstJob); n != 0 {
			c.Errorf("a resend queued %d new jobs", n)
		}
	})
	check(t, slackClient, "stale timestamp (10 min) → refused, no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		h, body := slackRequest(c, "backup cdb-c1nl9rpv", "trig-stale", time.Now().Add(-10*time.Minute))
		if status, _ := slackAnswer(ctx, c, r, h, body); status == http.StatusOK {
			c.Errorf("a stale request was answered 200")
		}
		if got := jobs(ctx, c); len(got) != 0 {
			c.Errorf("a stale request queued %d jobs", len(got))
		}
	})
	check(t, slackClient, "tampered body → refused, no job", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		h, body := slackRequest(c, "backup cdb-c1nl9rpv", "trig-tamper", time.Now())
		body = strings.Replace(body, "cdb-c1nl9rpv", "cdb-k2m4p6r8", 1)
		if status, _ := slackAnswer(ctx, c, r, h, body); status == http.StatusOK {
			c.Errorf("a tampered request was answered 200")
		}
		if got := jobs(ctx, c); len(got) != 0 {
			c.Errorf("a tampered request queued %d jobs", len(got))
		}
	})
	check(t, slackClient, "import → confirm <code> queues the import", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		h, body := slackRequest(c, "import cos://backups-1250000000/imports/orders.bak to mssql-njj2mtpl", "trig-import", time.Now())
		_, msg := slackAnswer(ctx, c, r, h, body)
		m := regexp.MustCompile(`confirm\s+([A-Za-z0-9-]+)`).FindStringSubmatch(msg.Text)
		if m == nil {
			c.Errorf("the import answer asks for no confirm code: %q", msg.Text)
			return
		}
		if got := jobs(ctx, c); len(got) != 0 {
			c.Errorf("an unconfirmed import queued %d jobs", len(got))
		}
		h, body = slackRequest(c, "confirm "+m[1], "trig-confirm", time.Now())
		_, msg = slackAnswer(ctx, c, r, h, body)
		if !strings.Contains(msg.Text, "queued") {
			c.Errorf("confirm answered %q; want the queued import", msg.Text)
		}
		if got := jobs(ctx, c); len(got) != 1 || !strings.Contains(got[0].Body, "import") {
			c.Errorf("confirm queued %d jobs; want the import", len(got))
		}
	})
	check(t, slackClient, "resend → its job's work message is not sent again", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		jobs(ctx, c)
		h, body := slackRequest(c, "backup cdb-k2m4p6r8", "trig-resend-2", time.Now())
		slackAnswer(ctx, c, r, h, body)
		if got := jobs(ctx, c); len(got) != 1 {
			c.Errorf("the first request queued %d messages; want one", len(got))
			return
		}
		// The job was handed off: a resend answers from its claim, and
		// Enqueue neither sends it again nor resets it to queued.
		slackAnswer(ctx, c, r, h, body)
		if got := jobs(ctx, c); len(got) != 0 {
			c.Errorf("the resend sent %d work messages again: %s", len(got), got[0].Body)
		}
	})
	check(t, slackClient, "a reused message id with another command → not queued, and the answer says so", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		jobs(ctx, c)
		h, body := slackRequest(c, "backup cdb-c1nl9rpv", "trig-reused", time.Now())
		slackAnswer(ctx, c, r, h, body)
		jobs(ctx, c)
		h, body = slackRequest(c, "backup cdb-k2m4p6r8", "trig-reused", time.Now())
		_, msg := slackAnswer(ctx, c, r, h, body)
		for _, m := range jobs(ctx, c) {
			if strings.Contains(m.Body, "cdb-k2m4p6r8") {
				c.Errorf("the other command under a reused id was queued: %s", m.Body)
			}
		}
		if strings.Contains(msg.Text, "queued") && strings.Contains(msg.Text, "cdb-k2m4p6r8") && !strings.Contains(msg.Text, "not queued") {
			c.Errorf("the answer claims the other command was queued: %q", msg.Text)
		}
	})
	check(t, slackClient, "status from a user on no list → refused (status defaults to the backup list)", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		h, body := slackRequestAs(c, "U0STRANGER", "status cdb-c1nl9rpv", "trig-status-stranger", time.Now())
		if _, msg := slackAnswer(ctx, c, r, h, body); !strings.Contains(msg.Text, "not allowed") {
			c.Errorf("a stranger's status was answered %q; want a refusal", msg.Text)
		}
	})
	check(t, slackClient, "Events API url_verification (slackevents) → its challenge", func(c *R) {
		ctx := deadline(t, 60*time.Second)
		b, _ := json.Marshal(slackevents.EventsAPIURLVerificationEvent{Token: "deprecated",
			Challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", Type: slackevents.URLVerification})
		if ev, err := slackevents.ParseEvent(b, slackevents.OptionNoVerifyToken()); err != nil || ev.Type != slackevents.URLVerification {
			c.Errorf("slackevents does not read the request built as a URL check: %v %+v", err, ev)
		}
		h := slackSigned(c, "application/json", string(b), time.Now())
		inv, err := r.invoke(ctx, functionURLEvent("/slack", h, string(b)))
		var resp events.LambdaFunctionURLResponse
		if err != nil || inv.err != nil || json.Unmarshal(inv.body, &resp) != nil {
			c.Errorf("invoke: %v %s", err, inv)
			return
		}
		var ch slackevents.ChallengeResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &ch) != nil ||
			ch.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
			c.Errorf("answered %d %q; want slackevents.ChallengeResponse with the challenge", resp.StatusCode, resp.Body)
		}
	})
}
