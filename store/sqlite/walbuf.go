package sqlite

// /* SQLite's functions are left unresolved until the binary is linked
//    with mattn's copy, so a function called undeclared must not compile. */
// #cgo CFLAGS: -Werror=implicit-function-declaration
// #cgo linux LDFLAGS: -Wl,--unresolved-symbols=ignore-in-object-files
// #cgo darwin LDFLAGS: -Wl,-undefined,dynamic_lookup
// #include "walbuf.h"
import "C"

import (
	"fmt"

	_ "github.com/mattn/go-sqlite3" // the SQLite walbuf.c wraps
)

// walbufVFS gathers the writer's WAL writes (walbuf.c).
const walbufVFS = C.WALBUF_VFS

func init() {
	if rc := C.walbufRegister(); rc != C.SQLITE_OK {
		panic(fmt.Sprintf("sqlite: registering the %s VFS: SQLite error %d", walbufVFS, rc))
	}
}
