// A VFS that wraps SQLite's default one and gathers the writes SQLite
// makes to a WAL file into large ones. SQLite appends each frame of a
// commit with two writes (its 24-byte header, then the page), so a commit
// of thousands of pages was thousands of pwrite calls, most of its time in
// the kernel; gathered, it is a few. The bytes reach the file in the same
// order, and before anything can depend on them: before every sync (a
// commit is durable only after its sync, and readers see it only after
// that), read, truncate, size, lock change, file control and close. A
// write that does not continue the gathered ones sends those first.
//
// A transaction that spills pages to the WAL and then rolls back leaves
// frames past the WAL's end, which the next writer writes over; so when the
// database file's write lock is let go, what is still gathered is sent
// first, while the lock is held, as SQLite's own writes would have been.
//
// Only connections with synchronous=FULL may use it: with NORMAL, SQLite
// publishes a commit to readers without syncing the WAL, and they would
// read frames still in the buffer.
#include <stdlib.h>
#include <string.h>

#include "walbuf.h"

// SQLite's unix VFS takes at most 128 KiB - 1 in one write (it masks the
// length with 0x1ffff), so the buffer stays below that: 29 frames of a 4
// KiB page, one pwrite call where there were 58.
#define WALBUF_CAP (120 * 1024)

typedef struct walbufFile walbufFile;
struct walbufFile {
	sqlite3_file base;  // pMethods: walbufMethods
	sqlite3_file *real; // the default VFS's file, right after this struct
	int gather;         // a WAL file: writes are gathered
	char *buf;
	int len;            // bytes gathered, for [off, off+len)
	sqlite3_int64 off;
	walbufFile *wal;    // a database file: its connection's WAL, while open
	walbufFile *db;     // a WAL file: its connection's database file
};

static sqlite3_vfs *walbufReal;

static int walbufFlush(walbufFile *f) {
	if (f->len == 0) {
		return SQLITE_OK;
	}
	int rc = f->real->pMethods->xWrite(f->real, f->buf, f->len, f->off);
	f->len = 0;
	return rc;
}

static int walbufClose(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	if (f->db != NULL) {
		f->db->wal = NULL;
	}
	if (f->wal != NULL) {
		f->wal->db = NULL;
	}
	int rc = walbufFlush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int walbufRead(sqlite3_file *p, void *out, int n, sqlite3_int64 off) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return f->real->pMethods->xRead(f->real, out, n, off);
}

static int walbufWrite(sqlite3_file *p, const void *in, int n, sqlite3_int64 off) {
	walbufFile *f = (walbufFile *)p;
	if (!f->gather) {
		return f->real->pMethods->xWrite(f->real, in, n, off);
	}
	if (f->len > 0 && (off != f->off + f->len || f->len + n > WALBUF_CAP)) {
		int rc = walbufFlush(f);
		if (rc != SQLITE_OK) {
			return rc;
		}
	}
	if (n > WALBUF_CAP) {
		return f->real->pMethods->xWrite(f->real, in, n, off);
	}
	if (f->buf == NULL && (f->buf = malloc(WALBUF_CAP)) == NULL) {
		return f->real->pMethods->xWrite(f->real, in, n, off);
	}
	if (f->len == 0) {
		f->off = off;
	}
	memcpy(f->buf + f->len, in, n);
	f->len += n;
	return SQLITE_OK;
}

static int walbufTruncate(sqlite3_file *p, sqlite3_int64 size) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int walbufSync(sqlite3_file *p, int flags) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int walbufFileSize(sqlite3_file *p, sqlite3_int64 *size) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int walbufLock(sqlite3_file *p, int level) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, level);
}

static int walbufUnlock(sqlite3_file *p, int level) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, level);
}

static int walbufCheckReservedLock(sqlite3_file *p, int *out) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int walbufFileControl(sqlite3_file *p, int op, void *arg) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int walbufSectorSize(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int walbufDeviceCharacteristics(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int walbufShmMap(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **pp) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int walbufShmLock(sqlite3_file *p, int offset, int n, int flags) {
	walbufFile *f = (walbufFile *)p;
	if ((flags & SQLITE_SHM_UNLOCK) != 0 && f->wal != NULL) {
		// Frames of a transaction that did not commit (one that did was
		// sent at its sync): past the WAL's end, harmless, but only while
		// this connection still holds the lock. An error here leaves them
		// unwritten, which is as harmless.
		walbufFlush(f->wal);
	}
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void walbufShmBarrier(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	f->real->pMethods->xShmBarrier(f->real);
}

static int walbufShmUnmap(sqlite3_file *p, int deleteFlag) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xShmUnmap(f->real, deleteFlag);
}

static int walbufFetch(sqlite3_file *p, sqlite3_int64 off, int n, void **pp) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, n, pp);
}

static int walbufUnfetch(sqlite3_file *p, sqlite3_int64 off, void *pp) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xUnfetch(f->real, off, pp);
}

static const sqlite3_io_methods walbufMethods = {
	3,
	walbufClose, walbufRead, walbufWrite, walbufTruncate, walbufSync, walbufFileSize,
	walbufLock, walbufUnlock, walbufCheckReservedLock, walbufFileControl,
	walbufSectorSize, walbufDeviceCharacteristics,
	walbufShmMap, walbufShmLock, walbufShmBarrier, walbufShmUnmap,
	walbufFetch, walbufUnfetch,
};

static int walbufOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *outFlags) {
	walbufFile *f = (walbufFile *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	int rc = walbufReal->xOpen(walbufReal, name, f->real, flags, outFlags);
	if (f->real->pMethods == NULL) {
		return rc; // nothing opened: SQLite will not close it
	}
	if (f->real->pMethods->iVersion < 3) {
		f->real->pMethods->xClose(f->real);
		return SQLITE_CANTOPEN;
	}
	f->gather = rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) != 0;
	f->base.pMethods = &walbufMethods;
	if (f->gather) {
		walbufFile *db = (walbufFile *)sqlite3_database_file_object(name);
		if (db != NULL && db->base.pMethods == &walbufMethods) {
			db->wal = f;
			f->db = db;
		}
	}
	return rc;
}

static int walbufDelete(sqlite3_vfs *v, const char *name, int syncDir) {
	return walbufReal->xDelete(walbufReal, name, syncDir);
}
static int walbufAccess(sqlite3_vfs *v, const char *name, int flags, int *out) {
	return walbufReal->xAccess(walbufReal, name, flags, out);
}
static int walbufFullPathname(sqlite3_vfs *v, const char *name, int n, char *out) {
	return walbufReal->xFullPathname(walbufReal, name, n, out);
}
static void *walbufDlOpen(sqlite3_vfs *v, const char *name) { return walbufReal->xDlOpen(walbufReal, name); }
static void walbufDlError(sqlite3_vfs *v, int n, char *out) { walbufReal->xDlError(walbufReal, n, out); }
static void (*walbufDlSym(sqlite3_vfs *v, void *h, const char *sym))(void) {
	return walbufReal->xDlSym(walbufReal, h, sym);
}
static void walbufDlClose(sqlite3_vfs *v, void *h) { walbufReal->xDlClose(walbufReal, h); }
static int walbufRandomness(sqlite3_vfs *v, int n, char *out) { return walbufReal->xRandomness(walbufReal, n, out); }
static int walbufSleep(sqlite3_vfs *v, int us) { return walbufReal->xSleep(walbufReal, us); }
static int walbufCurrentTime(sqlite3_vfs *v, double *out) { return walbufReal->xCurrentTime(walbufReal, out); }
static int walbufGetLastError(sqlite3_vfs *v, int n, char *out) { return walbufReal->xGetLastError(walbufReal, n, out); }
static int walbufCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *out) {
	return walbufReal->xCurrentTimeInt64(walbufReal, out);
}

static sqlite3_vfs walbufVFS = {
	2, 0, 0, 0, WALBUF_VFS, 0,
	walbufOpen, walbufDelete, walbufAccess, walbufFullPathname,
	walbufDlOpen, walbufDlError, walbufDlSym, walbufDlClose,
	walbufRandomness, walbufSleep, walbufCurrentTime, walbufGetLastError,
	walbufCurrentTimeInt64,
};

int walbufRegister(void) {
	walbufReal = sqlite3_vfs_find(0);
	if (walbufReal == NULL || walbufReal->iVersion < 2) {
		return SQLITE_ERROR;
	}
	walbufVFS.szOsFile = (int)sizeof(walbufFile) + walbufReal->szOsFile;
	walbufVFS.mxPathname = walbufReal->mxPathname;
	return sqlite3_vfs_register(&walbufVFS, 0);
}
