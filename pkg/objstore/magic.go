package objstore

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// MagicLen is how many leading bytes ReadMagic returns and CheckBackupMagic needs.
const MagicLen = 8

var knownBad = []struct {
	prefix []byte
	what   string
}{
	{[]byte("PK\x03\x04"), "a zip archive"},
	{[]byte{0x1f, 0x8b}, "a gzip file"},
	{[]byte("7z\xbc\xaf\x27\x1c"), "a 7-zip archive"},
	{[]byte("Rar!"), "a rar archive"},
	{[]byte("BZh"), "a bzip2 file"},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, "an xz file"},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "a zstd file"},
}

// CheckBackupMagic accepts the start of a native SQL Server backup: "TAPE"
// (Microsoft Tape Format, plain and TDE backups) or "MSSQLBAK" (compressed or
// encrypted backups). Anything else is rejected as invalid input with a
// message that names common archive formats, because a zipped .bak is the
// usual mistake and the extension proves nothing.
func CheckBackupMagic(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte("TAPE")), bytes.HasPrefix(b, []byte("MSSQLBAK")):
		return nil
	case len(b) == 0:
		return apierr.Invalid("objstore: the object is empty, not a SQL Server backup")
	}
	for _, k := range knownBad {
		if bytes.HasPrefix(b, k.prefix) {
			return apierr.Invalid("objstore: the object is %s, not a SQL Server backup; upload the .bak itself (it must start with TAPE or MSSQLBAK)", k.what)
		}
	}
	n := min(len(b), MagicLen)
	return apierr.Invalid("objstore: not a SQL Server backup: it starts with %s, want TAPE (native backup) or MSSQLBAK (compressed/encrypted backup)",
		strconv.Quote(string(b[:n])))
}

// String is how an Object appears in logs; it holds nothing secret.
func (o Object) String() string {
	return fmt.Sprintf("%s/%s (%d bytes, etag %s)", o.Bucket, o.Key, o.Size, o.ETag)
}
