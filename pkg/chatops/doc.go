// Package chatops serves chat commands (/backupflow backup, import, status) from
// Slack, WeCom, DingTalk, Feishu and in-house tools as one verified http.Handler.
//
// # Request path
//
// New returns an http.Handler that routes on the last path segment: /slack,
// /wecom, /dingtalk, /feishu and /hook. A platform answers 404 unless its
// secrets are configured. The body is read once under Config.MaxBodyBytes
// (64 KiB by default; larger is 413) and verified over the raw bytes before
// anything is parsed. An unsigned, forged, tampered, stale or foreign
// request gets 401 and causes nothing. Anything else odd gets 200 and a
// short help or error reply in the platform's format. A panic becomes a
// generic 500 and a log line.
//
// Verification per platform (see the Verify functions):
//
//   - Slack: v0 HMAC-SHA256 over "v0:ts:body", ±5 min; ssl_check=1 (exactly)
//     gets an empty 200.
//   - WeCom: SHA-1 msg_signature over the sorted token, timestamp, nonce and
//     ciphertext, our own ±5 min window, AES-256-CBC with 32-byte PKCS#7, and
//     the receiveid (CorpID for the self-built app, "" for the smart robot).
//     An XML body is the app, a JSON body the robot; GET echoes the decrypted
//     echostr.
//   - DingTalk: timestamp (ms, ±1 h) and sign. The sign does not cover the
//     body, so robotCode, chatbotCorpId (when configured) and msgId are
//     checked too (401 when wrong), and the sender must be in
//     DingTalkConfig.Senders.
//   - Feishu: SHA-256 X-Lark-Signature over ts+nonce+key+body, ±5 min,
//     decryption, then the Verification Token in constant time. The
//     url_verification challenge may come unsigned (Feishu's SDK does not sign
//     it); decryption with our key and the token are its proof.
//   - Hook: X-Hub-Signature-256 "sha256=" + hex HMAC-SHA256 over
//     X-Backupflow-Timestamp "." X-Backupflow-Delivery "." body, ±5 min. Unlike
//     GitHub's body-only MAC, the timestamp and delivery id are signed, so the
//     window and the deduplication cannot be bypassed by editing headers. The
//     body is JSON {"text","user","team","chat","reply_url"}.
//
// # Replays and idempotency
//
// Every job gets Request.ID = platform + "-" + 16 hex of SHA-256 over the
// platform and its message id (Slack trigger_id, WeCom MsgId/msgid or nonce,
// DingTalk msgId, Feishu event_id, hook delivery id). Before Enqueue the
// handler claims that id in the Store; a resend of an accepted message gets
// 200 and the same acknowledgement, and nothing is enqueued. If Enqueue
// fails after the claim, the user is asked to send the command again (a new
// message has a new id).
//
// Known limits: a captured DingTalk (timestamp, sign) pair authenticates any
// body for an hour, so a body naming our robot, a listed sender and a fresh
// msgId is accepted. Keep DingTalkConfig.Senders tight. Read-only commands
// (status, help) are not deduplicated, so a platform resend may answer twice.
//
// # Authorisation defaults
//
// A valid signature is not permission. Policy entries are "platform:id" or
// "platform:*":
//
//   - status: anyone in a verified workspace, unless Policy.Status is set.
//   - backup: nobody until Policy.Backup lists users or sets Anyone.
//   - import: only Policy.Import.Users, never Anyone, and only after
//     `confirm <code>` from the same user within 5 minutes.
//     Policy.ImportUsers may import without confirming.
//   - backup and import touch only instances that match a Policy.Instances
//     pattern (path.Match); none match by default.
//
// Teams and Chats narrow every rule to workspaces/corps and channels/chats.
// WeCom app messages are one-to-one and carry no chat id, so a rule with
// Chats never admits them.
//
// The confirmation code is derived, not random: HMAC-SHA256 of the request
// id under a key hashed from the configured secrets, six base32 characters.
// Every instance and every platform resend computes the same code without
// shared randomness. The pending import lives in the Store (Put/Get) under
// platform, user and code, so only the asker can confirm it.
//
// # Replies
//
// Slack gets an ephemeral JSON message. DingTalk gets a text message in the
// response body: documented for outgoing robots, not confirmed for app
// robots, and Origin.ReplyURL (sessionWebhook) is there either way. The
// generic hook gets {"text": ...}. WeCom and Feishu get an empty 200, and the
// text goes to Deps.Replies. Results of jobs go back later through the
// notifier, routed by Origin: to Origin.ReplyURL while Origin.ReplyExpires
// is ahead (Slack response_url 30 min, DingTalk sessionWebhookExpiredTime,
// WeCom robot response_url 1 h), else to the platform's static channel. The
// handler never calls a cloud API.
//
// # Test secrets
//
// Package chatopstest holds the fixed, public test secrets that sign
// events/chatops/*.json, for example Slack signing secret
// "bf-test-slack-signing-secret-0001" and hook secret
// "bf-test-hook-secret-0001". It also has helpers that sign a request for
// each platform.
package chatops
