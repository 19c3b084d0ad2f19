// Package notify posts job outcomes to team chat (Slack, WeCom, DingTalk, Feishu/Lark)
// and to generic webhooks, with every credential redacted from errors, logs and String.
//
// # Channel specs
//
// A channel is configured as one URL-ish spec; ParseList takes several,
// separated by commas or newlines (blank lines and lines starting with # are
// skipped). Every part marked secret is a bearer credential: it is sent only to
// its platform and appears nowhere else.
//
//	slack:https://hooks.slack.com/services/T000/B000/XXXX
//	    Slack incoming webhook. The whole URL is secret.
//	wecom:<key>
//	wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>
//	    WeCom 消息推送 (group robot), markdown. The key is secret.
//	dingtalk:<access_token>[?secret=SEC...]
//	dingtalk:https://oapi.dingtalk.com/robot/send?access_token=<t>[&secret=SEC...]
//	    DingTalk custom robot, markdown; with a secret every post is signed
//	    (加签). Token and secret are secret.
//	feishu:<hook token>[?secret=<s>]
//	feishu:https://open.feishu.cn/open-apis/bot/v2/hook/<token>[?secret=<s>]
//	lark:<hook token>[?secret=<s>]
//	    Feishu/Lark custom bot, interactive card; with a secret every post is
//	    signed. Token and secret are secret. lark: posts to open.larksuite.com.
//	webhook:https://example.com/path[?secret=<s>]
//	    Generic JSON POST. With a secret the body is signed GitHub-style
//	    (X-Hub-Signature-256) and the secret is removed from the URL. Path,
//	    query and user info are treated as secret.
//	print:[slack|wecom|dingtalk|feishu]   (alias stdout:)
//	    Writes the rendered message to Options.Stdout, for local runs.
//
// A bare https URL whose host is a known platform's (hooks.slack.com,
// qyapi.weixin.qq.com, oapi.dingtalk.com, open.feishu.cn, open.larksuite.com)
// is accepted without the prefix. Full URLs must be https; plain http is
// allowed only for loopback hosts (local stacks). Options.Endpoints moves a
// platform to another base URL, for tests and emulators.
//
// # Delivery
//
// Each post is bound to the caller's context and to Options.Timeout (10 s by
// default), never follows redirects (a redirect would carry the credential
// elsewhere), and succeeds only on a 2xx status whose body the platform marks
// as accepted (Slack "ok", WeCom/DingTalk errcode 0, Feishu code 0). Texts over
// a platform's limit are truncated with an ellipsis, never rejected. Failures
// are *Error values that say whether a retry can help and for how long the
// platform asked to wait.
package notify
