package chatops

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"sync"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// Verbs a Command can carry.
const (
	VerbBackup  = "backup"
	VerbImport  = "import"
	VerbStatus  = "status"
	VerbHelp    = "help"
	VerbConfirm = "confirm"
	VerbDead    = "dead"
	// VerbRetention previews which backupflow backups of an instance
	// retention would expire.
	VerbRetention = "retention"
	// VerbPlan shows what tonight's nightly run would back up and skip.
	VerbPlan = "plan"
)

// Command is one parsed chat command. Only the fields of its Verb are set.
type Command struct {
	Verb     string // VerbBackup, VerbImport, VerbStatus, VerbHelp, VerbConfirm, VerbDead, VerbRetention or VerbPlan
	Instance string // backup, import, retention: a validated instance id
	Method   string // backup: "", "logical", "physical" or "snapshot"
	Object   string // import: cos://bucket/key, s3://bucket/key or bucket/key
	Query    string // status: "", a job id or an instance id
	Code     string // confirm: the code, upper-cased
}

// ErrUsage marks a command that could not be understood. The error text says
// why, in words fit for the person who typed it.
var ErrUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// HelpText is the usage shown for `help` and after every usage error.
const HelpText = `Commands:
  backup <instance> [logical|physical|snapshot]
  import <cos://bucket/key | s3://bucket/key | bucket/key> to <instance>
  status [job-id | instance]
  confirm <code>   (finishes an import you asked for in the last 5 minutes)
  dead             (the jobs given up on; replay them with the CLI)
  retention <instance>   (which backupflow backups retention would expire, and why the others are kept)
  plan             (what tonight's nightly run would back up and skip, and why)
  help`

var (
	// Slack wraps mentions, channels and links in angle brackets:
	// <@U123>, <@U123|name>, <#C1|chan>, <!here>, <https://x|label>.
	slackToken = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`<([^<>]*)>`) })
	codeRE     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z2-7]{6}$`) })
	jobRE      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`) })
	bucketRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,62}$`) })
)

var methods = map[string]bool{"logical": true, "physical": true, "snapshot": true}

// Normalize turns what a chat platform delivers into plain command words:
// mentions go (Slack <@U1>, WeCom/generic @Name, Feishu @_user_1), HTML
// entities are decoded, whitespace (including the ideographic space Chinese
// input methods produce) collapses to one space, and a leading /backupflow
// or /dbbackup is dropped.
func Normalize(text string) string {
	text = slackToken().ReplaceAllStringFunc(text, func(tok string) string {
		inner := tok[1 : len(tok)-1]
		switch {
		case inner == "":
			return " "
		case inner[0] == '@' || inner[0] == '#' || inner[0] == '!':
			return " "
		}
		// A link: keep the target, drop the label.
		if i := strings.IndexByte(inner, '|'); i >= 0 {
			inner = inner[:i]
		}
		return " " + inner + " "
	})
	text = html.UnescapeString(text)
	fields := strings.Fields(text)
	out := fields[:0]
	for _, f := range fields {
		if strings.HasPrefix(f, "@") {
			continue // @BotName, @_user_1, @all
		}
		out = append(out, f)
	}
	if len(out) > 0 {
		switch strings.ToLower(out[0]) {
		case "/backupflow", "/dbbackup":
			out = out[1:]
		}
	}
	return strings.Join(out, " ")
}

// ParseCommand parses one chat command after Normalize. Empty text is help.
// Every error wraps ErrUsage and explains itself to the user.
func ParseCommand(text string) (Command, error) {
	f := strings.Fields(Normalize(text))
	if len(f) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	verb, args := strings.ToLower(f[0]), f[1:]
	switch verb {
	case VerbHelp:
		return Command{Verb: VerbHelp}, nil
	case VerbBackup:
		if len(args) < 1 || len(args) > 2 {
			return Command{}, usagef("backup takes an instance and an optional method")
		}
		if err := checkInstance(args[0]); err != nil {
			return Command{}, err
		}
		c := Command{Verb: VerbBackup, Instance: args[0]}
		if len(args) == 2 {
			m := strings.ToLower(args[1])
			if !methods[m] {
				return Command{}, usagef("unknown backup method %q (want logical, physical or snapshot)", clip(args[1]))
			}
			c.Method = m
		}
		return c, nil
	case VerbImport:
		if len(args) != 3 || strings.ToLower(args[1]) != "to" {
			return Command{}, usagef("import takes <object> to <instance>")
		}
		if err := checkObject(args[0]); err != nil {
			return Command{}, err
		}
		if err := checkInstance(args[2]); err != nil {
			return Command{}, err
		}
		return Command{Verb: VerbImport, Object: args[0], Instance: args[2]}, nil
	case VerbStatus:
		if len(args) > 1 {
			return Command{}, usagef("status takes at most one job id or instance")
		}
		c := Command{Verb: VerbStatus}
		if len(args) == 1 {
			if _, ok := provider.ProductOf(args[0]); ok {
				if err := checkInstance(args[0]); err != nil {
					return Command{}, err
				}
			} else if !jobRE().MatchString(args[0]) {
				return Command{}, usagef("%q is neither a job id nor an instance id", clip(args[0]))
			}
			c.Query = args[0]
		}
		return c, nil
	case VerbDead:
		if len(args) != 0 {
			return Command{}, usagef("dead takes nothing: it lists the jobs given up on (replay them with backupflow dead replay)")
		}
		return Command{Verb: VerbDead}, nil
	case VerbPlan:
		if len(args) != 0 {
			return Command{}, usagef("plan takes nothing: it shows tonight's nightly run (backupflow plan --at TIME plans another)")
		}
		return Command{Verb: VerbPlan}, nil
	case VerbRetention:
		if len(args) != 1 {
			return Command{}, usagef("retention takes one instance")
		}
		if err := checkInstance(args[0]); err != nil {
			return Command{}, err
		}
		return Command{Verb: VerbRetention, Instance: args[0]}, nil
	case VerbConfirm:
		if len(args) != 1 {
			return Command{}, usagef("confirm takes the code you were given")
		}
		code := strings.ToUpper(args[0])
		if !codeRE().MatchString(code) {
			return Command{}, usagef("%q is not a confirmation code", clip(args[0]))
		}
		return Command{Verb: VerbConfirm, Code: code}, nil
	}
	return Command{}, usagef("unknown command %q", clip(f[0]))
}

func checkInstance(id string) error {
	p, ok := provider.ProductOf(id)
	if !ok {
		return usagef("%q is not an instance id this tool knows (cdb-…, mssql-…, cmgo-… or a Huawei RDS id)", clip(id))
	}
	if err := provider.ValidateInstanceID(p, id); err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), apierr.ErrInvalidInput.Error()+": "))
	}
	return nil
}

// checkObject accepts cos://bucket/key, s3://bucket/key or bucket/key. The
// bucket follows the S3/COS naming rules (lower case, digits, dots, hyphens);
// the key must be non-empty, printable and at most 1024 bytes.
func checkObject(obj string) error {
	rest := obj
	if i := strings.Index(obj, "://"); i >= 0 {
		switch strings.ToLower(obj[:i]) {
		case "cos", "s3":
		default:
			return usagef("object %q: only cos:// and s3:// are supported", clip(obj))
		}
		rest = obj[i+3:]
	}
	bucket, key, ok := strings.Cut(rest, "/")
	if !ok || key == "" {
		return usagef("object %q: want bucket/key", clip(obj))
	}
	if !bucketRE().MatchString(bucket) {
		return usagef("object %q: %q is not a valid bucket name", clip(obj), clip(bucket))
	}
	if len(key) > 1024 {
		return usagef("object key is longer than 1024 bytes")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return usagef("object key contains a control character")
		}
	}
	return nil
}

// clip keeps echoed user input short in replies and logs.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	// Cut on a rune boundary.
	for i := max; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i] + "…"
		}
	}
	return s[:max] + "…"
}
