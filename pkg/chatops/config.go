package chatops

import (
	"log/slog"
	"time"

	"github.com/backupflow/backupflow/pkg/secret"
)

// DefaultMaxBodyBytes caps a request body; chat callbacks are a few KiB.
const DefaultMaxBodyBytes = 64 << 10

// DefaultAckBudget bounds the Store, Enqueue and Status calls of one request,
// leaving headroom under the tightest platform deadline (Slack and Feishu, 3 s).
const DefaultAckBudget = 2 * time.Second

// ConfirmWindow is how long an import waits for its `confirm <code>`.
const ConfirmWindow = 5 * time.Minute

// Config selects the platforms and the policy. A platform is served only when
// its secrets are set; otherwise its path answers 404.
type Config struct {
	MaxBodyBytes int64         // 0 means DefaultMaxBodyBytes
	AckBudget    time.Duration // 0 means DefaultAckBudget

	Slack    SlackConfig
	WeCom    WeComConfig
	DingTalk DingTalkConfig
	Feishu   FeishuConfig
	Hook     HookConfig

	Policy Policy
}

// SlackConfig enables /slack (slash commands).
type SlackConfig struct {
	SigningSecret secret.String // Basic Information → App Credentials → Signing Secret
}

// WeComConfig enables /wecom. The self-built app (XML callbacks) and the
// smart robot (JSON callbacks) have separate Token/EncodingAESKey pairs in
// the console; set either or both.
type WeComConfig struct {
	App    WeComKeys
	CorpID string // the app's receiveid; also the Team of robot requests
	Robot  WeComKeys
}

// WeComKeys are one callback's Token and 43-character EncodingAESKey.
type WeComKeys struct {
	Token          secret.String
	EncodingAESKey secret.String
}

func (k WeComKeys) set() bool { return k.Token.IsSet() && k.EncodingAESKey.IsSet() }

// DingTalkConfig enables /dingtalk (enterprise-internal app robot, HTTP mode).
// Because DingTalk's sign covers only the timestamp, the body is trusted only
// when robotCode (and chatbotCorpId, when CorpID is set) match and the sender
// is listed in Senders.
type DingTalkConfig struct {
	AppSecret secret.String
	RobotCode string   // required with AppSecret
	CorpID    string   // optional; checked against chatbotCorpId when set
	Senders   []string // senderStaffId allowlist; "*" admits every sender; required
}

// FeishuConfig enables /feishu (event subscription, "send to developer
// server"). An Encrypt Key is required: without it Feishu signs nothing.
type FeishuConfig struct {
	EncryptKey        secret.String
	VerificationToken secret.String
	AppID             string // optional; checked against header.app_id when set
}

// HookConfig enables /hook, the generic HMAC endpoint for in-house tools.
type HookConfig struct {
	Secret secret.String
}

// Policy decides who may do what. Entries name a platform and an id:
// "slack:U123", "wecom:zhangsan", "dingtalk:manager4220", "feishu:ou_1a2b",
// "hook:ci"; "slack:*" matches every id on that platform.
type Policy struct {
	// Status defaults to Rule{Anyone: true} when left zero: it only reads.
	Status Rule
	// Backup left zero admits nobody; set Anyone to open it to the workspace.
	Backup Rule
	// Import admits the listed users only (Anyone is refused by New) and
	// asks them to confirm within ConfirmWindow.
	Import Rule
	// ImportUsers may import without confirming. They still pass
	// Import.Teams and Import.Chats.
	ImportUsers []string
	// Instances are path.Match patterns ("cdb-*", "mssql-prod*") naming the
	// instances backup and import may touch. Empty admits none; "*" admits all.
	Instances []string
}

// Rule is one command's allowlist. A request passes when its team is in
// Teams (or Teams is empty), its chat is in Chats (or Chats is empty), and
// Anyone is set or its user is in Users.
type Rule struct {
	Users  []string
	Teams  []string
	Chats  []string
	Anyone bool
}

func (r Rule) zero() bool {
	return len(r.Users) == 0 && len(r.Teams) == 0 && len(r.Chats) == 0 && !r.Anyone
}

// Deps are the handler's collaborators.
type Deps struct {
	Jobs    Jobs         // required
	Store   Store        // required; shared by every instance in production
	Replies Replier      // optional; for WeCom and Feishu, whose HTTP answer stays empty
	Logger  *slog.Logger // nil means slog.Default()
	Now     func() time.Time
}
