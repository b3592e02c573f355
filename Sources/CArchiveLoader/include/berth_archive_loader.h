#ifndef BERTH_ARCHIVE_LOADER_H
#define BERTH_ARCHIVE_LOADER_H

// The libarchive functions berth calls are defined in this module (lazy.c): they load
// libarchive.so.13 with dlopen on first use instead of at every start of berth. Callers keep
// using the declarations of <archive.h> through module CArchive.

/// 1 when libarchive.so.13 can be loaded (it is loaded then), 0 otherwise.
int berth_archive_available(void);

#endif
