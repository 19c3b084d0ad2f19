package emulator

import "strings"

// Env returns the variables that point a backupflow configuration at this
// emulator served at url (http://host:port: Server.URL, or an
// httptest.Server's URL): the credentials it accepts, under the SDK names
// (TENCENTCLOUD_SECRET_ID …), the Huawei project of its fleet and every
// endpoint override. Queues, ledger and notifications stay the caller's
// choice (CloudQueues names the emulated ones). It is the one place that
// knows which variable reaches which part, for the local stack, `invoke`
// and every test that runs functions against the emulator.
func (e *Emulator) Env(url string) map[string]string {
	addr := strings.TrimPrefix(url, "http://")
	return map[string]string{
		"TENCENTCLOUD_SECRET_ID":      e.opts.SecretID,
		"TENCENTCLOUD_SECRET_KEY":     e.opts.SecretKey,
		"HUAWEICLOUD_SDK_AK":          e.opts.SecretID,
		"HUAWEICLOUD_SDK_SK":          e.opts.SecretKey,
		"HUAWEICLOUD_SDK_PROJECT_ID":  e.Fleet.HuaweiProjectID,
		"AWS_ACCESS_KEY_ID":           e.opts.SecretID,
		"AWS_SECRET_ACCESS_KEY":       e.opts.SecretKey,
		"BACKUPFLOW_TENCENT_ENDPOINT": addr, // signed host names: host:port, no scheme
		"BACKUPFLOW_COS_ENDPOINT":     addr,
		"BACKUPFLOW_HUAWEI_ENDPOINT":  url,
		"BACKUPFLOW_CMQ_ENDPOINT":     url,
		"BACKUPFLOW_AWS_ENDPOINT":     url,
		"BACKUPFLOW_FEISHU_API":       url,
		"BACKUPFLOW_WECOM_API":        url,
		// Chat reply handles (hooks.slack.com/commands/…) land here.
		"BACKUPFLOW_CHAT_REPLY_ENDPOINT": url,
	}
}

// CloudQueues returns the variables that put the work, poll and dead queues
// on the emulated CMQ and the ledger in the fixture's COS bucket under
// prefix (tests sharing an emulator pick distinct prefixes).
func CloudQueues(ledgerPrefix string) map[string]string {
	return map[string]string{
		"BACKUPFLOW_WORK_QUEUE": "cmq://backupflow-work",
		"BACKUPFLOW_POLL_QUEUE": "cmq://backupflow-poll",
		"BACKUPFLOW_DEAD_QUEUE": "cmq://backupflow-dead",
		"BACKUPFLOW_LEDGER":     "cos://backups-1250000000/" + ledgerPrefix,
	}
}
