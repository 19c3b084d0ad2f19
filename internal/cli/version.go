package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version describes this binary from its build info: the module version
// and, when the build stamped it (go build in a checkout; not go run, go
// test or -buildvcs=false), the VCS revision and whether the tree was dirty.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "backupflow: no build info in this binary"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "backupflow %s %s", bi.Main.Path, v)
	if rev := set["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " revision %s", rev)
		if t := set["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if set["vcs.modified"] == "true" {
			b.WriteString(" with uncommitted changes")
		}
	} else {
		b.WriteString(" revision unknown (built without VCS stamping: go run, or -buildvcs=false)")
	}
	fmt.Fprintf(&b, " %s", bi.GoVersion)
	return b.String()
}
