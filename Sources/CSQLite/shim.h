#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call: one wrapper per option berth sets.

/// Leaves the write-ahead log as it is when the last connection closes (no checkpoint, no
/// fsync, the file is not deleted); the next opener reads it back. Returns an SQLite code.
static inline int berth_sqlite_no_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
