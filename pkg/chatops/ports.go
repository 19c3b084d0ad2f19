package chatops

import (
	"context"
	"log/slog"
	"time"
)

// Jobs is the queue side of the handler. The handler never calls a cloud API;
// it hands each accepted command to Jobs and answers the chat at once.
type Jobs interface {
	// Enqueue hands the job to the queue. It must be idempotent per r.ID and
	// return quickly (the chat platform waits for the answer). The returned
	// job id is what users pass to `status`; returning r.ID keeps the
	// acknowledgement of a platform resend identical to the first one.
	Enqueue(ctx context.Context, r Request) (jobID string, err error)
	// Status returns a short text for `status`; query is "", a job id or an
	// instance id.
	Status(ctx context.Context, query string) (string, error)
}

// DeadLetters is the optional side of Jobs that answers `dead`: a short
// text listing the jobs given up on. A Jobs without it answers that the
// list is not available here.
type DeadLetters interface {
	DeadText(ctx context.Context) (string, error)
}

// RetentionPreview is the optional side of Jobs that answers
// `retention <instance>`: what retention would expire there, read-only. A
// Jobs without it answers that the preview is not available here.
type RetentionPreview interface {
	RetentionText(ctx context.Context, instance string) (string, error)
}

// Planner is the optional side of Jobs that answers `plan`: tonight's
// nightly run in a few lines, resolved as the run resolves it and starting
// nothing. A Jobs without it answers that the plan is not available here.
type Planner interface {
	PlanText(ctx context.Context) (string, error)
}

// Request is one job asked for from chat.
type Request struct {
	// ID is deterministic from the platform and its message/event id
	// ("slack-<16 hex>"), so resends of one message map to one job. It fits
	// every cloud's backup-name rules.
	ID       string
	Op       string // "backup" or "import"
	Instance string
	Method   string // backup only; "" means the product's default
	Object   string // import only
	Origin   Origin
}

// Origin says who asked, where, and how to answer later.
type Origin struct {
	Platform  string // "slack", "wecom", "dingtalk", "feishu", "hook"
	User      string // Slack user_id, WeCom userid, DingTalk senderStaffId, Feishu open_id, hook "user"
	Team      string // Slack team_id, WeCom CorpID, DingTalk corp id, Feishu tenant_key, hook "team"
	Chat      string // Slack channel_id, WeCom robot chatid, DingTalk conversationId, Feishu chat_id, hook "chat"
	Thread    string // Feishu message to reply under; WeComAppThread+agent id for the WeCom app; empty elsewhere
	MessageID string // the platform's message or event id
	// ReplyURL is the short-lived reply handle (Slack response_url, DingTalk
	// sessionWebhook, WeCom robot response_url). It is a bearer credential:
	// never log it. The job's result is posted to it while ReplyExpires is
	// ahead (the platform's documented lifetime, counted from the command).
	ReplyURL     string
	ReplyExpires time.Time
}

// LogValue keeps ReplyURL out of logs.
func (o Origin) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("platform", o.Platform), slog.String("user", o.User), slog.String("team", o.Team),
		slog.String("chat", o.Chat), slog.String("message_id", o.MessageID),
	)
}

// Replier delivers a text to a conversation when the platform's HTTP answer
// cannot carry it (WeCom callbacks want encrypted passive replies, Feishu
// wants API replies). It should enqueue rather than post, because it runs
// inside the platform's acknowledgement deadline. Optional.
type Replier interface {
	Reply(ctx context.Context, o Origin, text string) error
}
