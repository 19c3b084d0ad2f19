package objstore_test

import (
	"fmt"

	"github.com/backupflow/backupflow/pkg/objstore"
)

func ExampleCheckBackupMagic() {
	fmt.Println(objstore.CheckBackupMagic([]byte("TAPE\x00\x00\x00\x00")))
	fmt.Println(objstore.CheckBackupMagic([]byte("PK\x03\x04\x14\x00\x08\x00")))
	// Output:
	// <nil>
	// invalid input: objstore: the object is a zip archive, not a SQL Server backup; upload the .bak itself (it must start with TAPE or MSSQLBAK)
}
