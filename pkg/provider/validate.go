package provider

import (
	"regexp"
	"strings"
	"sync"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// The shapes compile on first use: compiled at package init they were the
// larger part of every function's init time (bounded repetitions such as
// {32} and {0,59} expand into long programs), paid even by an invocation
// that validates nothing.
var (
	huaweiID   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{32}in0[0-9]$`) })
	tencentIDs = map[Product]func() *regexp.Regexp{
		MySQL:     sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^cdb-[a-z0-9]{8,12}$`) }),
		SQLServer: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^mssql-[a-z0-9]{8,12}$`) }),
		MongoDB:   sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^cmgo-[a-z0-9]{8,12}$`) }),
	}
	// Huawei (seed 003): 4-64 chars, starts with a letter, letters, digits, - and _.
	huaweiName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{3,63}$`) })
	// Tencent names: the docs only say "illegal characters" are rejected
	// (InvalidParameterValue.BackupNameIsIllegal); we allow the set every
	// product accepts and cap the length at cdb's 60.
	tencentName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$`) })
)

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }

// ValidateInstanceID checks an instance id's shape for its product.
func ValidateInstanceID(p Product, id string) error {
	if p == HuaweiRDS {
		if !huaweiID().MatchString(id) {
			return apierr.Invalid("huawei rds instance id %q: want 32 lowercase hex characters followed by in0N", id)
		}
		return nil
	}
	shape, ok := tencentIDs[p]
	if !ok {
		return apierr.Invalid("unknown product %q", p)
	}
	if re := shape(); !re.MatchString(id) {
		return apierr.Invalid("%s instance id %q: want the shape %s", p, id, strings.Trim(re.String(), "^$"))
	}
	return nil
}

// ValidateName checks a backup (or migration) name against the product's rules.
func ValidateName(p Product, name string) error {
	if p == HuaweiRDS {
		if !huaweiName().MatchString(name) {
			return apierr.Invalid("backup name %q: Huawei requires 4-64 characters, a leading letter, then letters, digits, - or _", name)
		}
		return nil
	}
	if !tencentName().MatchString(name) {
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
