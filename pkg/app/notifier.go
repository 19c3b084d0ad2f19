package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/notify"
	"github.com/backupflow/backupflow/pkg/provider"
	"github.com/backupflow/backupflow/pkg/wecom"
)

// sender is what the notify package's channels and fan-out provide.
type sender interface {
	Send(ctx context.Context, m notify.Message) error
}

// notifier renders flow notices as chat messages: every notice goes to the
// team channels; a chat-originated job's outcome also goes back to the
// platform it came from, mentioning who asked.
type notifier struct {
	team    sender
	replies map[string]sender // by chat platform
	// handles builds the sender for a job's reply handle (the platform's
	// short-lived URL to the conversation); nil when none may be used.
	handles func(platform, handle string) (sender, error)
	// feishu and wecomApp answer through the platform's own API where a
	// command carried no handle: a Feishu reply under the command's
	// message, a WeCom app message to who asked. Nil when not configured.
	feishu   *feishu.Client
	wecomApp *wecom.Client
	now      func() time.Time
	log      *slog.Logger
	// failuresOnly (BACKUPFLOW_NOTIFY_MODE=failures) keeps everything below
	// a failure off the team channels, except, with heartbeat
	// (BACKUPFLOW_NOTIFY_HEARTBEAT), the nightly summary.
	failuresOnly, heartbeat bool
	// reportLink, when set (BACKUPFLOW_REPORT_URL), is the signed link
	// to a run's report page the summary carries.
	reportLink func(run string) string
}

// handleMargin keeps a post off a handle about to expire: one that lapses
// in flight is lost, while the static channel is not.
const handleMargin = time.Minute

func (n *notifier) Notify(ctx context.Context, no flow.Notice) error {
	if no.Summary != nil {
		msg := SummaryMessage(*no.Summary)
		if n.reportLink != nil {
			msg.Fields = append(msg.Fields, notify.Field{Name: "Report", Value: n.reportLink(no.Summary.Run)})
		}
		if n.failuresOnly && msg.Level < notify.Failure && !n.heartbeat {
			n.logger().InfoContext(ctx, "nightly summary not sent: every job succeeded, BACKUPFLOW_NOTIFY_MODE=failures "+
				"and BACKUPFLOW_NOTIFY_HEARTBEAT=false", "run", no.Summary.Run, "jobs", len(no.Summary.Outcomes))
			return nil
		}
		return n.team.Send(ctx, msg)
	}
	if no.Stale != nil {
		return n.toTeam(ctx, StaleMessage(*no.Stale))
	}
	if no.Retention != nil {
		// The retention notice is the nightly summary's tail (the summary
		// cannot carry it: retention runs after it), so it follows the
		// summary's rule: with BACKUPFLOW_NOTIFY_MODE=failures it is sent
		// with the heartbeat, and a failed pass is always sent.
		msg := RetentionMessage(*no.Retention)
		if n.failuresOnly && msg.Level < notify.Failure && !n.heartbeat {
			n.logger().InfoContext(ctx, "retention notice not sent: BACKUPFLOW_NOTIFY_MODE=failures and BACKUPFLOW_NOTIFY_HEARTBEAT=false",
				"run", no.Retention.Run)
			return nil
		}
		return n.team.Send(ctx, msg)
	}
	if no.Outcome == nil {
		return fmt.Errorf("notify: an empty notice")
	}
	o := *no.Outcome
	msg := OutcomeMessage(o)
	err := n.toTeam(ctx, msg)
	if o.Origin.Platform == "" {
		return err
	}
	msg.Mention = o.Origin.User
	if rerr := n.reply(ctx, o, msg); rerr != nil {
		err = errors.Join(err, fmt.Errorf("reply to %s: %w", o.Origin.Platform, rerr))
	}
	return err
}

// toTeam sends m to the team channels unless the mode keeps it off them.
func (n *notifier) toTeam(ctx context.Context, m notify.Message) error {
	if n.failuresOnly && m.Level < notify.Failure {
		return nil
	}
	return n.team.Send(ctx, m)
}

// reply sends a chat job's result to the conversation the command came
// from: through the command's reply handle while it lasts, or through the
// platform's own API (Feishu, the WeCom app), else (expired, refused, or
// failed) through the platform's static reply channel. With no static
// channel, a failure is returned only when a later try can succeed (the
// redelivery re-sends the notice); a used-up or refused handle is logged
// and dropped, since retrying it would only repeat the team's notice.
// Neither the handle nor its errors' URLs reach the log.
func (n *notifier) reply(ctx context.Context, o flow.Outcome, msg notify.Message) error {
	static, hasStatic := n.replies[o.Origin.Platform]
	var direct func() error
	switch {
	case o.Origin.Reply != "" && n.handles != nil:
		direct = func() error { return n.viaHandle(ctx, o, msg) }
	case o.Origin.Platform == "feishu" && o.Origin.Thread != "" && n.feishu != nil:
		direct = func() error { return n.feishu.Reply(ctx, o.Origin.Thread, feishuText(msg)) }
	case o.Origin.Platform == "wecom" && strings.HasPrefix(o.Origin.Thread, WeComAppThread) && n.wecomApp != nil:
		direct = func() error { return n.wecomApp.SendText(ctx, o.Origin.User, notify.PlainText(msg)) }
	}
	if direct != nil {
		herr := direct()
		if herr == nil {
			return nil
		}
		if !hasStatic {
			if retryable(herr) {
				return herr
			}
			n.logger().WarnContext(ctx, "chat result not delivered to the conversation; no static reply channel to fall back on",
				"job", o.JobID, "platform", o.Origin.Platform, "err", herr.Error())
			return nil
		}
		n.logger().InfoContext(ctx, "chat result sent through the static reply channel instead of the conversation",
			"job", o.JobID, "platform", o.Origin.Platform, "reason", herr.Error())
	}
	if !hasStatic {
		return nil
	}
	return static.Send(ctx, msg)
}

// WeComAppThread starts the Origin.Thread of a command that came through a
// WeCom self-built app's callback (the rest is the agent id): its result
// goes back as an app message to who asked.
const WeComAppThread = "wecom-app:"

// feishuText is msg as a Feishu text message, mentioning who asked.
func feishuText(msg notify.Message) string {
	s := notify.PlainText(msg)
	if msg.Mention != "" {
		s += "\n<at user_id=\"" + msg.Mention + "\"></at>"
	}
	return s
}

// retryable reports whether a failed post to the conversation may succeed
// later: a handle's rate limit or server error, a platform API's server
// error, or a transport failure (no answer at all).
func retryable(err error) bool {
	if errors.Is(err, errHandleExpired) || errors.Is(err, notify.ErrHandle) {
		return false
	}
	var fe *feishu.Error
	if errors.As(err, &fe) {
		return fe.Temporary()
	}
	var we *wecom.Error
	if errors.As(err, &we) {
		return we.Temporary()
	}
	var ne *notify.Error
	if errors.As(err, &ne) {
		_, ok := notify.RetryAfter(err)
		return ok
	}
	return true
}

func (n *notifier) logger() *slog.Logger {
	if n.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.log
}

var errHandleExpired = errors.New("the reply handle has expired")

func (n *notifier) viaHandle(ctx context.Context, o flow.Outcome, msg notify.Message) error {
	now := time.Now
	if n.now != nil {
		now = n.now
	}
	if exp := o.Origin.ReplyExpires; exp.IsZero() || !now().Add(handleMargin).Before(exp) {
		return errHandleExpired
	}
	s, err := n.handles(o.Origin.Platform, o.Origin.Reply)
	if err != nil {
		return err
	}
	return s.Send(ctx, msg)
}

// OutcomeMessage renders one job's outcome.
func OutcomeMessage(o flow.Outcome) notify.Message {
	what := "Backup of " + o.Instance
	if o.Op == provider.Import {
		what = "Import of " + o.Object + " into " + o.Instance
	}
	m := notify.Message{JobID: o.JobID, Title: what + " " + string(o.Result)}
	switch o.Result {
	case flow.Succeeded:
		m.Level = notify.Success
	default:
		m.Level = notify.Failure
	}
	var text []string
	if o.Code != "" {
		text = append(text, o.Code+": "+o.Message)
	} else if o.Message != "" {
		text = append(text, o.Message)
	}
	if o.Detail != "" && o.Result != flow.Succeeded {
		text = append(text, o.Detail)
	}
	if o.RequestID != "" {
		text = append(text, "request id "+o.RequestID)
	}
	m.Text = strings.Join(text, "\n")
	m.Fields = []notify.Field{
		{Name: "Instance", Value: o.Instance},
		{Name: "Product", Value: string(o.Product)},
		{Name: "Job", Value: o.JobID},
		{Name: "Took", Value: o.Duration().Round(time.Second).String()},
	}
	if o.Result == flow.Succeeded && o.Detail != "" {
		m.Fields = append(m.Fields, notify.Field{Name: "Backup", Value: o.Detail})
	}
	if o.Origin.Source != "" {
		m.Fields = append(m.Fields, notify.Field{Name: "Cause", Value: o.Origin.Source})
	}
	return m
}

// SummaryMessage renders a nightly run's one summary.
func SummaryMessage(s flow.Summary) notify.Message {
	results := make([]notify.Result, 0, len(s.Outcomes))
	for _, o := range s.Outcomes {
		detail := o.Detail
		if o.Code != "" {
			detail = strings.TrimSpace(o.Code + ": " + o.Message + " " + o.Detail)
		}
		results = append(results, notify.Result{JobID: o.JobID, Target: o.Instance, Outcome: string(o.Result),
			Detail: detail, Duration: o.Duration()})
	}
	m := notify.Summary(s.Run, results)
	if len(s.Skipped) > 0 {
		var names []string
		for _, sk := range s.Skipped {
			names = append(names, sk.InstanceID+" ("+sk.Reason+")")
		}
		m.Fields = append(m.Fields, notify.Field{Name: "Skipped", Value: strings.Join(names, ", ")})
	}
	if s.DeadWaiting > 0 {
		m.Fields = append(m.Fields, notify.Field{Name: "Dead letters",
			Value: fmt.Sprintf("%d waiting: backupflow dead list, then dead replay or dead drop", s.DeadWaiting)})
	}
	return m
}

// StaleMessage renders the staleness alarm of one target.
func StaleMessage(st flow.Stale) notify.Message {
	m := notify.Message{Level: notify.Failure, JobID: "stale-" + st.Instance,
		Title: fmt.Sprintf("No successful backup of %s for %s", st.Instance, roughly(st.Age))}
	last := "none recorded since it entered the nightly scope at " + st.Since.UTC().Format(time.RFC3339)
	if !st.LastSuccess.IsZero() {
		last = st.LastSuccess.UTC().Format(time.RFC3339)
	}
	m.Text = fmt.Sprintf("Its last successful backup is older than %s (BACKUPFLOW_STALE_AFTER): did the nightly run happen? "+
		"Check the nightly timer and the create-backup logs. Said once; a successful backup clears it.", roughly(st.Limit))
	m.Fields = []notify.Field{
		{Name: "Instance", Value: st.Instance},
		{Name: "Product", Value: string(st.Product)},
		{Name: "Last success", Value: last},
	}
	return m
}

// RetentionMessage renders a run's retention summary: how many backups
// were expired (or, report-only, would be) and the space freed where the
// cloud reports sizes.
func RetentionMessage(n flow.RetentionNotice) notify.Message {
	selected, expired, bytes, failed := n.Totals()
	m := notify.Message{Level: notify.Info, JobID: "retention-" + n.Run}
	switch {
	case n.Report:
		m.Title = fmt.Sprintf("Retention after %s (report only): %d backupflow backups would be expired", n.Run, selected)
		m.Text = "Nothing was deleted. Preview with backupflow retention --dry-run; set BACKUPFLOW_RETENTION_DELETE=true to expire them."
	default:
		m.Title = fmt.Sprintf("Retention after %s: %d backupflow backups expired", n.Run, expired)
		if bytes > 0 {
			m.Title += ", " + freed(bytes) + " freed"
		}
	}
	if failed > 0 {
		m.Level = notify.Failure
		var lines []string
		for _, r := range n.Results {
			if r.Error != "" {
				lines = append(lines, r.Instance+": "+r.Error)
			}
		}
		m.Fields = append(m.Fields, notify.Field{Name: "Failed", Value: strings.Join(lines, "; ")})
	}
	return m
}

// freed renders a size the cloud reported: GiB from 1 GiB, else MiB.
func freed(bytes int64) string {
	if bytes >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(bytes)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}

// roughly renders a duration of hours as "31h", shorter ones to the minute.
func roughly(d time.Duration) string {
	if d >= time.Hour {
		return fmt.Sprintf("%dh", int(d.Round(time.Hour)/time.Hour))
	}
	return d.Round(time.Minute).String()
}

// HasReplies reports whether any chat platform has a reply channel.
func (a *App) HasReplies() bool { return a.notifier != nil && len(a.notifier.replies) > 0 }

// Reply sends text to platform's reply channel (BACKUPFLOW_REPLY_<PLATFORM>),
// mentioning user. It is how an answer reaches a conversation whose platform
// cannot carry it in its HTTP answer.
func (a *App) Reply(ctx context.Context, platform, user, text string) error {
	if a.notifier == nil {
		return fmt.Errorf("no reply channel for %s", platform)
	}
	r, ok := a.notifier.replies[platform]
	if !ok {
		return fmt.Errorf("no reply channel for %s (set %s)", platform, ReplyVariables[platform])
	}
	return r.Send(ctx, notify.Message{Title: text, Level: notify.Info, Mention: user})
}
