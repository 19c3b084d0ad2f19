package chatops

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// dedupeTTL outlives every replay window (DingTalk: ±1 h, so a request can
// be accepted during two hours) with margin.
const dedupeTTL = 3 * time.Hour

const (
	keyJob     = "chatops:job:"     // claimed before Enqueue: one job per request id
	keyPending = "chatops:pending:" // claimed before Put: one prompt per import message
	keyConfirm = "chatops:confirm:" // the pending import itself
	keyTaken   = "chatops:taken:"   // what a claimed request id was taken for

	keyDingTalkSign = "chatops:dingtalk-sign:" // the body a DingTalk header pair came with
)

// pending is what an import waiting for confirmation keeps in the Store.
type pending struct {
	Request Request   `json:"request"`
	Created time.Time `json:"created"`
}

// run authorises and executes a verified command and returns the reply text.
// Side effects (Enqueue, Put) happen at most once per request id: the first
// Claim wins, later deliveries of the same message get the same text.
func (h *handler) run(ctx context.Context, in inbound) string {
	ctx, cancel := h.ctxBudget(ctx)
	defer cancel()
	o := in.origin
	cmd, err := ParseCommand(in.text)
	if err != nil {
		h.decision(ctx, o, Command{}, "usage", "reason", err.Error())
		return "Sorry, " + strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ") + ".\n\n" + HelpText
	}
	p := h.cfg.Policy
	switch cmd.Verb {
	case VerbHelp:
		return HelpText
	case VerbStatus:
		if !p.Status.allows(o) {
			return h.deny(ctx, o, cmd, "status rule")
		}
		text, err := h.deps.Jobs.Status(ctx, cmd.Query)
		if err != nil {
			h.decision(ctx, o, cmd, "error", "err", err.Error())
			return "Status is unavailable right now; try again in a minute."
		}
		h.decision(ctx, o, cmd, "allow")
		return text
	case VerbBackup:
		if !p.Backup.allows(o) {
			return h.deny(ctx, o, cmd, "backup rule")
		}
		if !p.instanceAllowed(cmd.Instance) {
			return h.deny(ctx, o, cmd, "instance not allowed")
		}
		req := Request{ID: requestID(o.Platform, o.MessageID), Op: VerbBackup,
			Instance: cmd.Instance, Method: cmd.Method, Origin: o}
		return h.enqueue(ctx, cmd, req)
	case VerbImport:
		direct := p.Import.placeAllows(o) && listed(p.ImportUsers, o.Platform, o.User)
		if !direct && !p.Import.allows(o) {
			return h.deny(ctx, o, cmd, "import rule")
		}
		if !p.instanceAllowed(cmd.Instance) {
			return h.deny(ctx, o, cmd, "instance not allowed")
		}
		req := Request{ID: requestID(o.Platform, o.MessageID), Op: VerbImport,
			Instance: cmd.Instance, Object: cmd.Object, Origin: o}
		if direct {
			return h.enqueue(ctx, cmd, req)
		}
		return h.askConfirm(ctx, cmd, req)
	case VerbConfirm:
		return h.confirm(ctx, o, cmd)
	case VerbDead:
		// What was given up on, and why, is for the people who may act on
		// the fleet: those the backup rule admits.
		if !p.Backup.allows(o) {
			return h.deny(ctx, o, cmd, "backup rule")
		}
		dl, ok := h.deps.Jobs.(DeadLetters)
		if !ok {
			h.decision(ctx, o, cmd, "allow")
			return "The dead-letter list is not available here; run backupflow dead list."
		}
		text, err := dl.DeadText(ctx)
		if err != nil {
			h.decision(ctx, o, cmd, "error", "err", err.Error())
			return "The dead-letter list is unavailable right now; try again in a minute."
		}
		h.decision(ctx, o, cmd, "allow")
		return text
	case VerbPlan:
		// The plan names every instance of the fleet and why some are
		// left out: for those who may act on the fleet, as `dead` is.
		if !p.Backup.allows(o) {
			return h.deny(ctx, o, cmd, "backup rule")
		}
		pl, ok := h.deps.Jobs.(Planner)
		if !ok {
			h.decision(ctx, o, cmd, "allow")
			return "The plan is not available here; run backupflow plan."
		}
		text, err := pl.PlanText(ctx)
		if err != nil {
			h.decision(ctx, o, cmd, "error", "err", err.Error())
			return "The plan is unavailable right now; try again in a minute."
		}
		h.decision(ctx, o, cmd, "allow")
		return text
	case VerbRetention:
		// Which backups would go is for those who may back the instance up.
		if !p.Backup.allows(o) {
			return h.deny(ctx, o, cmd, "backup rule")
		}
		if !p.instanceAllowed(cmd.Instance) {
			return h.deny(ctx, o, cmd, "instance not allowed")
		}
		rp, ok := h.deps.Jobs.(RetentionPreview)
		if !ok {
			h.decision(ctx, o, cmd, "allow")
			return "The retention preview is not available here; run backupflow retention --instance " + cmd.Instance + " --dry-run."
		}
		text, err := rp.RetentionText(ctx, cmd.Instance)
		if err != nil {
			h.decision(ctx, o, cmd, "error", "err", err.Error())
			return "The retention preview is unavailable right now; try again in a minute."
		}
		h.decision(ctx, o, cmd, "allow")
		return text
	}
	return HelpText
}

// enqueue queues req once per request id. The claim alone cannot be the
// guard: a process that dies (or an Enqueue that fails) after the claim and
// before the message lands would leave every resend answered "queued" with
// nothing queued. So a resend whose command matches what the first delivery
// recorded enqueues again — Enqueue is idempotent per job id, and a job that
// already ran ends on its recorded outcome — and one that does not match is
// refused, since the job id names the first command.
func (h *handler) enqueue(ctx context.Context, cmd Command, req Request) string {
	first, err := h.deps.Store.Claim(ctx, keyJob+req.ID, dedupeTTL)
	if err != nil {
		h.decision(ctx, req.Origin, cmd, "error", "request_id", req.ID, "err", err.Error())
		return "Sorry, I cannot take commands right now; try again in a minute."
	}
	rec := taken{Digest: commandDigest(req), What: describe(req)}
	if !first {
		b, found, err := h.deps.Store.Get(ctx, keyTaken+req.ID)
		if err != nil {
			h.decision(ctx, req.Origin, cmd, "error", "request_id", req.ID, "err", err.Error())
			return "Sorry, I cannot take commands right now; try again in a minute."
		}
		var was taken
		if found && json.Unmarshal(b, &was) == nil && was.Digest != "" && was.Digest != rec.Digest {
			h.decision(ctx, req.Origin, cmd, "deny", "reason", "message id reused for another command", "request_id", req.ID)
			return "Sorry, this message id was already used for " + was.What + " (job " + req.ID +
				"); the different command in it was not queued. Send it as a new message."
		}
		// A resend of the same command: enqueue again in case the first
		// delivery never got that far.
		h.decision(ctx, req.Origin, cmd, "replay", "request_id", req.ID)
		first = !found
	}
	if first {
		// Recorded before Enqueue, so a resend can always tell a reused id.
		b, _ := json.Marshal(rec)
		if err := h.deps.Store.Put(ctx, keyTaken+req.ID, b, dedupeTTL); err != nil {
			h.decision(ctx, req.Origin, cmd, "error", "request_id", req.ID, "err", err.Error())
			return "Sorry, I cannot take commands right now; try again in a minute."
		}
	}
	jobID, err := h.deps.Jobs.Enqueue(ctx, req)
	if err != nil {
		h.decision(ctx, req.Origin, cmd, "error", "request_id", req.ID, "err", err.Error())
		if errors.Is(err, apierr.ErrInvalidInput) {
			return "Sorry, the " + req.Op + " was not queued: " + strings.TrimPrefix(err.Error(), apierr.ErrInvalidInput.Error()+": ") + "."
		}
		// The send may have landed before it failed (a timeout): a new
		// command would start a second job, so name this one instead.
		return "The " + req.Op + " of " + req.Instance + " may not have been queued (job " + req.ID +
			"). Ask `status " + req.ID + "` in a minute; send the command again only if that job is unknown."
	}
	h.decision(ctx, req.Origin, cmd, "queued", "request_id", req.ID, "job_id", jobID)
	return queuedText(req, jobID)
}

// taken is what a claimed request id was taken for.
type taken struct {
	Digest string `json:"digest"`
	What   string `json:"what"`
}

// commandDigest covers what decides the job: who asked and for what.
func commandDigest(r Request) string {
	return digest(r.Op, r.Instance, r.Method, r.Object, r.Origin.Platform, r.Origin.User)
}

func describe(r Request) string {
	if r.Op == VerbImport {
		return "an import of " + r.Object + " into " + r.Instance
	}
	return "a backup of " + r.Instance
}

func queuedText(req Request, jobID string) string {
	if req.Op == VerbImport {
		return "Import of " + req.Object + " into " + req.Instance + " queued as job " + jobID + ". The result will follow here."
	}
	m := ""
	if req.Method != "" {
		m = " (" + req.Method + ")"
	}
	return "Backup of " + req.Instance + m + " queued as job " + jobID + ". The result will follow here."
}

func (h *handler) askConfirm(ctx context.Context, cmd Command, req Request) string {
	o := req.Origin
	if o.User == "" {
		return h.deny(ctx, o, cmd, "no user id to confirm with")
	}
	code := h.code(req.ID)
	prompt := "Import of " + req.Object + " into " + req.Instance + " overwrites the data there. " +
		"To go ahead, send `confirm " + code + "` within 5 minutes."
	first, err := h.deps.Store.Claim(ctx, keyPending+req.ID, dedupeTTL)
	if err != nil {
		h.decision(ctx, o, cmd, "error", "request_id", req.ID, "err", err.Error())
		return "Sorry, I cannot take commands right now; try again in a minute."
	}
	if !first {
		h.decision(ctx, o, cmd, "replay", "request_id", req.ID)
		return prompt
	}
	// The reply handle is not kept with the prompt: the job's result goes
	// to the handle of the `confirm` message, the fresher of the two.
	req.Origin.ReplyURL, req.Origin.ReplyExpires = "", time.Time{}
	b, err := json.Marshal(pending{Request: req, Created: h.now()})
	if err == nil {
		err = h.deps.Store.Put(ctx, confirmKey(o, code), b, ConfirmWindow)
	}
	if err != nil {
		h.decision(ctx, o, cmd, "error", "request_id", req.ID, "err", err.Error())
		return "Sorry, I cannot take commands right now; try again in a minute."
	}
	h.decision(ctx, o, cmd, "confirm-asked", "request_id", req.ID)
	return prompt
}

func (h *handler) confirm(ctx context.Context, o Origin, cmd Command) string {
	missing := "No import is waiting for code " + cmd.Code + " from you. Codes last 5 minutes; ask again with `import`."
	if o.User == "" {
		return h.deny(ctx, o, cmd, "no user id to confirm with")
	}
	b, found, err := h.deps.Store.Get(ctx, confirmKey(o, cmd.Code))
	if err != nil {
		h.decision(ctx, o, cmd, "error", "err", err.Error())
		return "Sorry, I cannot take commands right now; try again in a minute."
	}
	var pend pending
	if !found || json.Unmarshal(b, &pend) != nil {
		h.decision(ctx, o, cmd, "deny", "reason", "no pending import")
		return missing
	}
	if age := h.now().Sub(pend.Created); age > ConfirmWindow || age < -time.Minute {
		h.decision(ctx, o, cmd, "deny", "reason", "confirmation expired")
		return missing
	}
	// The key already binds platform and user; check again in case the
	// Store hands back something unexpected, and re-check the policy, which
	// may have changed since the prompt.
	req := pend.Request
	if req.Origin.Platform != o.Platform || req.Origin.User != o.User || h.code(req.ID) != cmd.Code {
		h.decision(ctx, o, cmd, "deny", "reason", "confirmation belongs to someone else")
		return missing
	}
	if !h.cfg.Policy.Import.allows(o) && !listed(h.cfg.Policy.ImportUsers, o.Platform, o.User) {
		return h.deny(ctx, o, cmd, "import rule")
	}
	cmd.Instance, cmd.Object = req.Instance, req.Object
	req.Origin.ReplyURL, req.Origin.ReplyExpires = o.ReplyURL, o.ReplyExpires
	return h.enqueue(ctx, cmd, req)
}

// code derives the 6-character confirmation code of a request.
func (h *handler) code(requestID string) string {
	m := hmac.New(sha256.New, h.confirmKey)
	m.Write([]byte(requestID))
	return base32.StdEncoding.EncodeToString(m.Sum(nil))[:6]
}

// confirmKey names a pending import by platform, user and code. User ids
// come from outside and may hold anything, while the deployed Store (the
// ledger) takes only printable path characters, so the parts are hashed,
// each length-prefixed so that no two triples share a key.
func confirmKey(o Origin, code string) string {
	return keyConfirm + digest(o.Platform, o.User, code)
}

// digest is a Store-safe name for a tuple of outside strings: hex of
// SHA-256 over the length-prefixed parts.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (h *handler) deny(ctx context.Context, o Origin, cmd Command, reason string) string {
	h.decision(ctx, o, cmd, "deny", "reason", reason)
	what := cmd.Verb
	if cmd.Instance != "" {
		what += " " + cmd.Instance
	}
	return "Sorry, you are not allowed to run `" + what + "` from here. Ask an admin to add you to the backupflow chat policy."
}

// decision logs who asked for what and what we decided. ReplyURL never
// appears (Origin.LogValue leaves it out).
func (h *handler) decision(ctx context.Context, o Origin, cmd Command, decision string, kv ...any) {
	args := []any{"origin", o, "verb", cmd.Verb, "decision", decision}
	if cmd.Instance != "" {
		args = append(args, "instance", cmd.Instance)
	}
	if cmd.Method != "" {
		args = append(args, "method", cmd.Method)
	}
	if cmd.Object != "" {
		args = append(args, "object", cmd.Object)
	}
	if cmd.Query != "" {
		args = append(args, "query", cmd.Query)
	}
	level := slog.LevelInfo
	if decision == "error" {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, "chatops: command", append(args, kv...)...)
}

func (r Rule) allows(o Origin) bool {
	return r.placeAllows(o) && (r.Anyone || listed(r.Users, o.Platform, o.User))
}

func (r Rule) placeAllows(o Origin) bool {
	return (len(r.Teams) == 0 || listed(r.Teams, o.Platform, o.Team)) &&
		(len(r.Chats) == 0 || listed(r.Chats, o.Platform, o.Chat))
}

// listed reports whether "platform:id" or "platform:*" is in list. An empty
// id matches nothing, not even the wildcard.
func listed(list []string, platform, id string) bool {
	if id == "" {
		return false
	}
	for _, e := range list {
		if e == platform+":"+id || e == platform+":*" {
			return true
		}
	}
	return false
}

func (p Policy) instanceAllowed(id string) bool {
	for _, pat := range p.Instances {
		if ok, _ := path.Match(pat, id); ok {
			return true
		}
	}
	return false
}

// ctxBudget bounds the downstream calls of one request.
func (h *handler) ctxBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.cfg.AckBudget)
}
