package provider

import (
	"strings"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// The shapes are checked by hand, not by regexp: the first create of every
// process validates its spec, and the bounded repetitions ({32}, {0,59},
// {3,63}) compiled into long programs, 50–250 µs each in that first
// invocation (package-level, before, they were the larger part of every
// function's init).

// run reports whether s is lo to hi bytes, each of them in class.
func run(s string, lo, hi int, class func(byte) bool) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !class(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool        { return c >= '0' && c <= '9' }
func isLower(c byte) bool        { return c >= 'a' && c <= 'z' }
func isLetter(c byte) bool       { return isLower(c) || c >= 'A' && c <= 'Z' }
func isLowerOrDigit(c byte) bool { return isLower(c) || isDigit(c) }
func isAlnum(c byte) bool        { return isLetter(c) || isDigit(c) }
func isHexLower(c byte) bool     { return isDigit(c) || c >= 'a' && c <= 'f' }

// IsWord reports whether s is 1 to max ASCII letters, digits, '_' or '-':
// the shape of the async and migration ids the clouds hand back, checked by
// hand for the same reason as the shapes here (`^[A-Za-z0-9_-]{1,64}$` was
// compiled in the first invocation that polled such a job).
func IsWord(s string, max int) bool {
	return run(s, 1, max, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// huaweiID: 32 lower-case hex characters, then in0 and a digit.
func huaweiID(id string) bool {
	return len(id) == 36 && run(id[:32], 32, 32, isHexLower) && id[32:35] == "in0" && isDigit(id[35])
}

// tencentIDs: the product's prefix, then 8-12 lower-case letters or digits;
// the shape is what an error names.
var tencentIDs = map[Product]struct{ prefix, shape string }{
	MySQL:     {"cdb-", "cdb-[a-z0-9]{8,12}"},
	SQLServer: {"mssql-", "mssql-[a-z0-9]{8,12}"},
	MongoDB:   {"cmgo-", "cmgo-[a-z0-9]{8,12}"},
}

// huaweiName (seed 003): 4-64 characters, a leading letter, then letters,
// digits, - and _.
func huaweiName(name string) bool {
	return name != "" && isLetter(name[0]) &&
		run(name[1:], 3, 63, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// tencentName: the docs only say "illegal characters" are rejected
// (InvalidParameterValue.BackupNameIsIllegal); we allow the set every
// product accepts and cap the length at cdb's 60.
func tencentName(name string) bool {
	return name != "" && isAlnum(name[0]) &&
		run(name[1:], 0, 59, func(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' })
}

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }

// ValidateInstanceID checks an instance id's shape for its product.
func ValidateInstanceID(p Product, id string) error {
	if p == HuaweiRDS {
		if !huaweiID(id) {
			return apierr.Invalid("huawei rds instance id %q: want 32 lowercase hex characters followed by in0N", id)
		}
		return nil
	}
	shape, ok := tencentIDs[p]
	if !ok {
		return apierr.Invalid("unknown product %q", p)
	}
	if rest, found := strings.CutPrefix(id, shape.prefix); !found || !run(rest, 8, 12, isLowerOrDigit) {
		return apierr.Invalid("%s instance id %q: want the shape %s", p, id, shape.shape)
	}
	return nil
}

// ValidateName checks a backup (or migration) name against the product's rules.
func ValidateName(p Product, name string) error {
	if p == HuaweiRDS {
		if !huaweiName(name) {
			return apierr.Invalid("backup name %q: Huawei requires 4-64 characters, a leading letter, then letters, digits, - or _", name)
		}
		return nil
	}
	if !tencentName(name) {
		return apierr.Invalid("backup name %q: use 1-60 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidateDescription checks a Huawei backup description (seed 003).
func ValidateDescription(d string) error {
	if len([]rune(d)) > 256 {
		return apierr.Invalid("description is %d characters; the limit is 256", len([]rune(d)))
	}
	if i := strings.IndexAny(d, `>!<"&'=`); i >= 0 {
		return apierr.Invalid("description contains %q, which Huawei rejects", d[i])
	}
	return nil
}

// Validate checks a Spec before any call.
func (s Spec) Validate() error {
	if err := ValidateInstanceID(s.Product, s.InstanceID); err != nil {
		return err
	}
	if err := ValidateName(s.Product, s.Name); err != nil {
		return err
	}
	switch s.Op {
	case Backup:
	case Import:
		if s.Product != SQLServer {
			return apierr.Invalid("import is only supported for sqlserver, not %s", s.Product)
		}
		if s.SourceURL == "" {
			return apierr.Invalid("import of %s: no source object URL", s.InstanceID)
		}
	default:
		return apierr.Invalid("unknown op %q", s.Op)
	}
	if s.KeepUntilGone && s.Product != SQLServer {
		return apierr.Invalid("keep-until-gone (StorageStrategy) is a sqlserver option, not %s's", s.Product)
	}
	if s.RetentionDays != 0 {
		if s.Product != MongoDB {
			return apierr.Invalid("retention days (BackupRetentionDays) is a mongodb option, not %s's", s.Product)
		}
		if s.RetentionDays < -2 || s.RetentionDays > 7300 {
			return apierr.Invalid("mongodb retention days %d: want 1-7300, -1 (long-term policy) or -2 (forever)", s.RetentionDays)
		}
	}
	if s.Individually {
		if s.Product != HuaweiRDS {
			return apierr.Invalid("individually (backup_database_individually) is a huawei-rds option, not %s's", s.Product)
		}
		if len(s.Databases) == 0 {
			return apierr.Invalid("individually needs the databases to back up one by one")
		}
	}
	// An option the product does not take is refused, not ignored: the
	// backup would not be the one asked for.
	if s.Method != "" && s.Product != MySQL && s.Product != MongoDB {
		return apierr.Invalid("backup method %q is a mysql and mongodb option; %s takes no method", s.Method, s.Product)
	}
	if len(s.Databases) > 0 && s.Product != SQLServer && s.Product != HuaweiRDS {
		return apierr.Invalid("databases is a sqlserver and huawei-rds option; a %s backup is of the whole instance", s.Product)
	}
	if len(s.Tables) > 0 && s.Product != MySQL {
		return apierr.Invalid("tables is a mysql option, not %s's", s.Product)
	}
	switch s.Product {
	case MySQL:
		switch s.Method {
		case "", "logical", "physical", "snapshot":
		default:
			return apierr.Invalid("mysql backup method %q: want logical, physical or snapshot", s.Method)
		}
		if len(s.Tables) > 0 && s.Method != "" && s.Method != "logical" {
			return apierr.Invalid("mysql table selection needs the logical method, not %s", s.Method)
		}
	case MongoDB:
		switch s.Method {
		case "", "logical", "physical", "snapshot":
		default:
			return apierr.Invalid("mongodb backup method %q: want logical, physical or snapshot", s.Method)
		}
	case HuaweiRDS:
		if err := ValidateDescription(s.Description); err != nil {
			return err
		}
	}
	return nil
}
