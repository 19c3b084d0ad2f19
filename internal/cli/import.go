package cli

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/flow"
	"github.com/backupflow/backupflow/pkg/objstore"
	"github.com/backupflow/backupflow/pkg/openurl"
)

// isLocalPath says whether an --object names a file on this machine rather
// than bucket/key: a path form, or an existing file without a URL scheme
// (read as bucket/key it would name the bucket after the first folder).
func isLocalPath(object string) bool {
	for _, p := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(object, p) {
			return true
		}
	}
	if strings.Contains(object, "://") {
		return false
	}
	fi, err := os.Stat(object)
	return err == nil && fi.Mode().IsRegular()
}

// checkObject stats the import's object and reads its first bytes before
// any job exists: a missing object or one that is not a SQL Server backup
// is refused here, not after a migration was created for it.
func checkObject(ctx context.Context, env Env, object string) (int, bool) {
	o, err := flow.ParseObject(object)
	if err != nil {
		return errorf(env, ExitUsage, "import: %v", err), false
	}
	store, err := objstore.Open(ctx, o.Platform+"://", openurl.Env{Getenv: env.Getenv})
	if err != nil {
		return errorf(env, ExitConfig, "import: %v", err), false
	}
	if _, err := store.Head(ctx, o.Bucket, o.Key); err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return errorf(env, ExitUsage, "import: no object %s://%s/%s: upload the .bak there first (docs/operations.md shows how, for the emulator too)",
				o.Platform, o.Bucket, o.Key), false
		}
		return errorf(env, ExitRuntime, "import: stat %s/%s: %v", o.Bucket, o.Key, err), false
	}
	magic, err := store.ReadMagic(ctx, o.Bucket, o.Key)
	if err != nil {
		return errorf(env, ExitRuntime, "import: read %s/%s: %v", o.Bucket, o.Key, err), false
	}
	if err := objstore.CheckBackupMagic(magic); err != nil {
		code := ExitRuntime
		if errors.Is(err, apierr.ErrInvalidInput) {
			code = ExitUsage
		}
		return errorf(env, code, "import: %s/%s: %v", o.Bucket, o.Key, err), false
	}
	return ExitOK, true
}
